"""The crisis part of the growth-record timeline: every crisis, open or closed, with the steps
of its checklist (who did each, when), and every contact with a guardian (who was contacted,
how, by whom; what was said only on the crisis pages), and each consent entry of that log as
an item of its own (given, refused or withdrawn, for what, by which guardian). For those who
manage crises; others who read the record see that they took place."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.authz import Permission, Principal, can
from ..core.states import state_label
from ..students.models import Student
from ..students.timeline import TimelineItem, names_of, newest, summary
from .forms import (
    CHANNEL_LABELS,
    CONSENT_LABELS,
    CONSENT_PURPOSE_LABELS,
    RELATION_LABELS,
    STEP_LABELS,
)
from .models import Crisis, CrisisState, CrisisStep, GuardianContact

KINDS = {
    "crisis": _l("Crises"), "guardian_contact": _l("Guardian contacts"),
    "consent": _l("Consent entries"),
}  # fmt: skip


def items(
    session: Session, principal: Principal, student: Student,
    since: dt.datetime | None, until: dt.datetime | None,
) -> list[TimelineItem]:  # fmt: skip
    full = can(principal, Permission.CRISIS_MANAGE, student)
    return [
        *crisis_items(session, student, since, until, full=full),
        *contact_items(session, student, since, until, full=full),
        *consent_items(session, student, since, until, full=full),
    ]


def crisis_items(
    session: Session, student: Student, since: dt.datetime | None, until: dt.datetime | None,
    *, full: bool,
) -> list[TimelineItem]:  # fmt: skip
    crises = newest(session, Crisis, Crisis.opened_at, student, since, until)
    if not full:
        return [summary(c.opened_at, "crisis", _l("Crisis opened")) for c in crises]
    steps: dict[uuid.UUID, list[CrisisStep]] = defaultdict(list)
    if crises:
        for step in session.scalars(
            select(CrisisStep)
            .where(CrisisStep.crisis_id.in_([c.id for c in crises]))
            .order_by(CrisisStep.done_at)
        ):
            steps[step.crisis_id].append(step)
    people = {c.closed_by_id for c in crises} | {s.done_by_id for v in steps.values() for s in v}
    names = names_of(session, people)
    found = []
    for crisis in crises:
        lines = [str(_l("State: %(state)s", state=state_label(CrisisState(crisis.state))))]
        for step in steps[crisis.id]:
            lines.append(str(_l(
                "%(step)s: %(name)s, %(date)s", step=STEP_LABELS.get(step.step, _l("Other")),
                name=names.get(step.done_by_id, ""), date=step.done_at.date().isoformat(),
            )))  # fmt: skip
        if crisis.closed_at is not None:
            lines.append(str(_l(
                "Closed by %(name)s on %(date)s",
                name=names.get(crisis.closed_by_id, ""), date=crisis.closed_at.date().isoformat(),
            )))  # fmt: skip
        found.append(
            TimelineItem(
                at=crisis.opened_at, kind="crisis", title=str(_l("Crisis opened")),
                lines=tuple(lines), url=url_for("crisis.detail", crisis_id=crisis.id),
            )
        )  # fmt: skip
    return found


def contact_items(
    session: Session, student: Student, since: dt.datetime | None, until: dt.datetime | None,
    *, full: bool,
) -> list[TimelineItem]:  # fmt: skip
    rows = newest(session, GuardianContact, GuardianContact.contacted_at, student, since, until)
    if not full:
        return [summary(r.contacted_at, "guardian_contact", _l("Guardian contacted")) for r in rows]
    names = names_of(session, {r.staff_id for r in rows})
    relations, channels = dict(RELATION_LABELS), dict(CHANNEL_LABELS)
    return [
        TimelineItem(
            at=row.contacted_at, kind="guardian_contact",
            title=str(_l("Guardian contacted: %(relation)s", relation=relations.get(row.relation, _l("Other")))),
            lines=(str(_l("Channel: %(channel)s", channel=channels.get(row.channel, _l("Other")))),),
            actor=names.get(row.staff_id),
        )
        for row in rows
    ]  # fmt: skip


def consent_items(
    session: Session, student: Student, since: dt.datetime | None, until: dt.datetime | None,
    *, full: bool,
) -> list[TimelineItem]:  # fmt: skip
    """The consent entries of the guardian-contact log (at the time the guardian said it)."""
    rows = newest(
        session, GuardianContact, GuardianContact.contacted_at, student, since, until,
        GuardianContact.consent.is_not(None),
    )  # fmt: skip
    if not full:
        return [summary(r.contacted_at, "consent", _l("Consent entry")) for r in rows]
    names = names_of(session, {r.staff_id for r in rows})
    relations, channels = dict(RELATION_LABELS), dict(CHANNEL_LABELS)
    decisions, purposes = dict(CONSENT_LABELS), dict(CONSENT_PURPOSE_LABELS)
    return [
        TimelineItem(
            at=row.contacted_at, kind="consent",
            title=str(_l("%(decision)s (%(purpose)s)",
                         decision=decisions.get(row.consent or "", _l("Other")),
                         purpose=purposes.get(row.consent_purpose or "", _l("Other")))),
            lines=(
                str(_l("Guardian: %(relation)s", relation=relations.get(row.relation, _l("Other")))),
                str(_l("Channel: %(channel)s", channel=channels.get(row.channel, _l("Other")))),
            ),
            actor=names.get(row.staff_id),
        )
        for row in rows
    ]  # fmt: skip
