"""The alerts part of the growth-record timeline: each alert raised about the student, its
state, and who acknowledged and resolved it (the resolution note only on the alert's page)."""

from __future__ import annotations

import datetime as dt

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core.authz import Permission, Principal, can
from ..core.states import state_label
from ..students.models import Student
from ..students.timeline import TimelineItem, names_of, newest, summary
from .common import KIND_LABELS
from .models import Alert, AlertState

KINDS = {"alert": _l("Alerts")}


def items(
    session: Session, principal: Principal, student: Student,
    since: dt.datetime | None, until: dt.datetime | None,
) -> list[TimelineItem]:  # fmt: skip
    rows = newest(session, Alert, Alert.raised_at, student, since, until)
    if not can(principal, Permission.ALERTS_HANDLE, student):
        return [summary(r.raised_at, "alert", _l("Alert raised")) for r in rows]
    names = names_of(
        session, {r.acknowledged_by_id for r in rows} | {r.resolved_by_id for r in rows}
    )
    found = []
    for row in rows:
        lines = [str(_l("State: %(state)s", state=state_label(AlertState(row.state))))]
        if row.acknowledged_by_id and row.acknowledged_at:
            lines.append(str(_l(
                "Acknowledged by %(name)s on %(date)s",
                name=names.get(row.acknowledged_by_id, ""), date=row.acknowledged_at.date().isoformat(),
            )))  # fmt: skip
        if row.resolved_by_id and row.resolved_at:
            lines.append(str(_l(
                "Resolved by %(name)s on %(date)s",
                name=names.get(row.resolved_by_id, ""), date=row.resolved_at.date().isoformat(),
            )))  # fmt: skip
        found.append(
            TimelineItem(
                at=row.raised_at, kind="alert", title=str(KIND_LABELS.get(row.kind, _l("Alert raised"))),
                lines=tuple(lines), url=url_for("alerts.detail", alert_id=row.id),
            )
        )  # fmt: skip
    return found
