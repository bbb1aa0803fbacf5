"""The concerns part of the growth-record timeline: concern reports (category, urgency, state,
reporter; the text itself only on the concern's page) and hotline calls (in full for the
district centre that logs them, in outline for the school)."""

from __future__ import annotations

import datetime as dt

from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy.orm import Session

from ..core.authz import Permission, Principal, can
from ..core.states import state_label
from ..students.models import Student
from ..students.timeline import TimelineItem, names_of, newest, summary
from .forms import CALLER_LABELS, CATEGORY_LABELS, RISK_LABELS, URGENCY_LABELS
from .models import Concern, ConcernState, HotlineCall

KINDS = {"concern": _l("Concern reports"), "hotline": _l("Hotline calls")}


def items(
    session: Session, principal: Principal, student: Student,
    since: dt.datetime | None, until: dt.datetime | None,
) -> list[TimelineItem]:  # fmt: skip
    return [*concern_items(session, student, since, until), *hotline_items(
        session, principal, student, since, until
    )]  # fmt: skip


def concern_items(
    session: Session, student: Student, since: dt.datetime | None, until: dt.datetime | None
) -> list[TimelineItem]:
    rows = newest(session, Concern, Concern.created_at, student, since, until)
    names = names_of(session, {c.reporter_id for c in rows})
    categories, urgencies = dict(CATEGORY_LABELS), dict(URGENCY_LABELS)
    found = []
    for row in rows:
        category = row.category or ""
        lines = [
            str(_l("Urgency: %(urgency)s", urgency=urgencies.get(row.urgency, _l("Other")))),
            str(_l("State: %(state)s", state=state_label(ConcernState(row.state)))),
        ]
        found.append(
            TimelineItem(
                at=row.created_at, kind="concern",
                title=str(_l("Concern: %(category)s", category=categories.get(category, _l("Other")))),
                lines=tuple(lines), actor=names.get(row.reporter_id),
                url=url_for("concerns.detail", concern_id=row.id),
            )
        )  # fmt: skip
    return found


def hotline_items(
    session: Session, principal: Principal, student: Student,
    since: dt.datetime | None, until: dt.datetime | None,
) -> list[TimelineItem]:  # fmt: skip
    rows = newest(session, HotlineCall, HotlineCall.called_at, student, since, until)
    if not can(principal, Permission.HOTLINE_LOG, student):
        return [summary(r.called_at, "hotline", _l("Call to the district hotline")) for r in rows]
    names = names_of(session, {c.counsellor_id for c in rows})
    callers, risks = dict(CALLER_LABELS), dict(RISK_LABELS)
    return [
        TimelineItem(
            at=row.called_at, kind="hotline",
            title=str(_l("Hotline call from: %(caller)s", caller=callers.get(row.caller_type, _l("Other")))),
            lines=(
                ngettext("%(num)d minute", "%(num)d minutes", row.duration_minutes),
                str(_l("Risk: %(risk)s", risk=risks.get(str(row.risk_level), _l("Other")))),
            ),
            actor=names.get(row.counsellor_id),
            url=url_for("concerns.hotline_detail", call_id=row.id),
        )
        for row in rows
    ]  # fmt: skip
