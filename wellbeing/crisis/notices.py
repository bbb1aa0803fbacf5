"""What was actually done, in words: who an alert reached (by role, how many people, by which
channel), what still waits for whom, and who can see a report in a queue.

Confirmations are built from these (never written by hand beside the service), so a message
cannot say more than the rows say: the alert's recipients are read back from
:class:`~wellbeing.alerts.models.AlertRecipient`, the next rung from the alert and its ladder.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..alerts.ladder import ladder_for
from ..alerts.models import Alert, AlertRecipient, AlertState, AlertStep
from ..alerts.services import CRISIS_KINDS
from ..auth.models import Membership, User
from ..core.authz import Role
from ..db import utcnow
from ..followups.models import FollowUp
from ..labels import role_label
from ..orgs.models import School
from ..risk.models import PENDING
from ..screening.review import describe_decisions_with
from ..students.models import Student
from ..ui import TIER_SHORT
from .forms import CHANNEL_LABELS, OUTCOME_LABELS, RELATION_LABELS, STEP_LABELS
from .models import GuardianContact
from .services import crisis_for_student

# The order people are named in (the ladder's order).
ROLE_ORDER = (Role.PSYCH_TEACHER, Role.SCHOOL_LEADER, Role.COUNSELLOR, Role.SUPERVISOR)


def _time(value: dt.datetime, now: dt.datetime) -> str:
    """HH:MM today, else the date too (local time)."""
    same_day = format_datetime(value, "yyyy-MM-dd") == format_datetime(now, "yyyy-MM-dd")
    return format_datetime(value, "HH:mm" if same_day else "yyyy-MM-dd HH:mm")


def _sep() -> str:
    return _("; ")


# --------------------------------------------------------------------------- alerts


@dataclass(frozen=True)
class Told:
    role: str
    people: int
    by_email: int  # of ``people``, how many also got an email


@dataclass(frozen=True)
class AlertNotice:
    told: tuple[Told, ...]
    raised_now: bool  # False: the action joined an alert that was already there
    raised_at: dt.datetime
    state: str
    acknowledged_at: dt.datetime | None
    next_role: str | None  # who is alerted next if nobody acknowledges (None: a reminder)
    next_at: dt.datetime | None

    @property
    def people(self) -> int:
        return sum(t.people for t in self.told)


def alert_notice(session: Session, alert: Alert, *, since: dt.datetime) -> AlertNotice:
    """Read back whom ``alert`` reached and what waits; ``since``: when the action began (an
    alert raised before it was already there)."""
    session.flush()
    rows = session.execute(
        select(AlertStep.role, AlertRecipient.user_id, AlertRecipient.channel)
        .join(AlertStep, AlertStep.id == AlertRecipient.step_id)
        .where(AlertRecipient.alert_id == alert.id)
    ).all()
    inbox: dict[str, set[uuid.UUID]] = {}
    email: dict[str, set[uuid.UUID]] = {}
    for role, user_id, channel in rows:
        (inbox if channel == "inbox" else email).setdefault(role, set()).add(user_id)
    order = {str(r): i for i, r in enumerate(ROLE_ORDER)}
    told = tuple(
        Told(role, len(users), len(email.get(role, set()) & users))
        for role, users in sorted(inbox.items(), key=lambda kv: order.get(kv[0], 99))
    )
    next_role = next_at = None
    if alert.state == AlertState.OPEN and alert.next_step_at is not None:
        ladder = ladder_for(session, alert)
        next_at = alert.next_step_at
        if alert.rung + 1 < len(ladder.rungs):
            next_role = ladder.rungs[alert.rung + 1][0]
    raised_at = (
        alert.raised_at if alert.raised_at.tzinfo else alert.raised_at.replace(tzinfo=dt.UTC)
    )
    return AlertNotice(
        told=told, raised_now=raised_at >= since, raised_at=raised_at, state=alert.state,
        acknowledged_at=alert.acknowledged_at, next_role=next_role, next_at=next_at,
    )  # fmt: skip


def _told_text(told: Told) -> str:
    role = role_label(told.role)
    if told.by_email == told.people:
        return _("%(role)s (%(num)d): in-app inbox and email", role=role, num=told.people)
    if told.by_email:
        return _(
            "%(role)s (%(num)d): in-app inbox; email to %(emails)d of them (the others have no "
            "email address)",
            role=role, num=told.people, emails=told.by_email,
        )  # fmt: skip
    return _("%(role)s (%(num)d): in-app inbox only (no email address)", role=role, num=told.people)


def describe_alert(notice: AlertNotice, now: dt.datetime | None = None) -> str:
    """The alert part of a confirmation: who was told, by which channel, what waits for whom."""
    now = now or utcnow()
    who = _sep().join(_told_text(t) for t in notice.told)
    parts = []
    if not notice.told:
        parts.append(
            _("Nobody could be alerted: the school and the district have no account to alert. "
              "Call the school leader now.")
        )  # fmt: skip
    elif notice.raised_now:
        parts.append(_("Alerted now: %(who)s.", who=who))
    else:
        parts.append(
            _("An alert about this student was already raised at %(time)s and has reached: "
              "%(who)s.", time=_time(notice.raised_at, now), who=who)
        )  # fmt: skip
    if notice.state != AlertState.OPEN:
        if notice.acknowledged_at is not None:
            parts.append(
                _("It was acknowledged at %(time)s; nobody else is alerted.",
                  time=_time(notice.acknowledged_at, now))
            )  # fmt: skip
    elif notice.next_at is not None and notice.next_role is not None:
        parts.append(
            _("If nobody acknowledges, the %(role)s will be alerted at %(time)s.",
              role=role_label(notice.next_role), time=_time(notice.next_at, now))
        )  # fmt: skip
    elif notice.next_at is not None:
        parts.append(
            _("If nobody acknowledges, everyone on the ladder is reminded at %(time)s.",
              time=_time(notice.next_at, now))
        )  # fmt: skip
    return " ".join(parts)


# --------------------------------------------------------------------------- queues


def _count_by_role(
    session: Session, roles: tuple[Role, ...], *, school_id: uuid.UUID | None = None,
    district_id: uuid.UUID | None = None, exclude: uuid.UUID | None = None,
) -> dict[str, int]:  # fmt: skip
    stmt = (
        select(Membership.role, func.count(func.distinct(Membership.user_id)))
        .join(User, User.id == Membership.user_id)
        .where(User.active.is_(True), Membership.role.in_([str(r) for r in roles]))
        .group_by(Membership.role)
    )
    if school_id is not None:
        stmt = stmt.where(Membership.school_id == school_id, Membership.class_id.is_(None))
    if district_id is not None:
        stmt = stmt.where(Membership.district_id == district_id)
    if exclude is not None:
        stmt = stmt.where(Membership.user_id != exclude)
    return {str(role): int(n) for role, n in session.execute(stmt).all() if n}


def people_for(
    session: Session,
    school_id: uuid.UUID,
    *,
    school_roles: tuple[Role, ...],
    district: bool,
    exclude: uuid.UUID | None = None,
) -> dict[str, int]:
    """How many active people hold each role at the school (and, with ``district``, how many
    district counsellors), leaving out ``exclude``."""
    counts = _count_by_role(session, school_roles, school_id=school_id, exclude=exclude)
    if district:
        district_id = session.scalar(select(School.district_id).where(School.id == school_id))
        counts.update(
            _count_by_role(session, (Role.COUNSELLOR,), district_id=district_id, exclude=exclude)
        )
    return counts


def describe_people(counts: dict[str, int]) -> str:
    """ "psychology teacher (2); school leader (1)" in the ladder's order."""
    order = {str(r): i for i, r in enumerate(ROLE_ORDER)}
    return _sep().join(
        _("%(role)s (%(num)d)", role=role_label(role), num=n)
        for role, n in sorted(counts.items(), key=lambda kv: order.get(kv[0], 99))
    )


def report_message(
    alert: AlertNotice | None, queue: dict[str, int], *, hotline: bool = False
) -> str:
    """The confirmation of a concern (``hotline``: of a call that became one): the alert it
    raised or joined, else who sees it in the school's concern queue (nobody is messaged)."""
    if alert is not None:
        lead = (
            _("Call recorded; an urgent concern went to the student's school.")
            if hotline
            else _("Reported.")
        )
        tail = "" if hotline else " " + _("Stay with the student and do not leave them alone.")
        return f"{lead} {describe_alert(alert)}{tail}"
    if not queue:
        return _(
            "The concern is saved, but nobody at the student's school has an account to read it "
            "(no psychology teacher or school leader). Tell the school leader in person."
        )
    who = describe_people(queue)
    if hotline:
        return _(
            "Call recorded; a concern is in the school's concern queue, for: %(who)s. No message "
            "was sent.",
            who=who,
        )
    return _(
        "Thank you. Your report is in the school's concern queue, for: %(who)s. No message was "
        "sent: they see it when they open the queue.",
        who=who,
    )


# --------------------------------------------------------------------------- crisis and tiers


def step_message(session: Session, row: object) -> str:
    """The confirmation of a checklist step (``row``: the CrisisStep written)."""
    now = utcnow()
    step = getattr(row, "step", "")
    if step == "followup_scheduled":
        followup = session.get(FollowUp, getattr(row, "followup_id", None))
        if followup is not None:
            return _(
                "Follow-up scheduled for %(time)s with you as its owner; it is in your follow-up "
                "agenda. No message was sent.",
                time=_time(followup.due_at, now),
            )
    if step == "guardian_notified":
        contact = session.get(GuardianContact, getattr(row, "guardian_contact_id", None))
        if contact is not None:
            return _(
                "Recorded: %(relation)s told by %(channel)s at %(time)s. This records the "
                "contact; the system sent no message.",
                relation=dict(RELATION_LABELS)[contact.relation],
                channel=dict(CHANNEL_LABELS)[contact.channel],
                time=_time(contact.contacted_at, now),
            )
    label = str(STEP_LABELS.get(step, step))
    outcome = getattr(row, "outcome", None)
    if outcome:
        label = _("%(step)s: %(outcome)s", step=label, outcome=dict(OUTCOME_LABELS)[outcome])
    return _("Recorded: %(step)s. No message was sent.", step=label)


def close_message(crisis: object) -> str:
    return _(
        "Crisis closed with your summary; tier confirmed: %(tier)s. It stays in the student's "
        "record with its checklist. No message was sent.",
        tier=TIER_SHORT[getattr(crisis, "closed_tier", 0) or 0],
    )


def stepdown_message(approval: object) -> str:
    """The approver's confirmation (``approval``: a ``services.StepdownApproval``)."""
    decision = getattr(approval, "decision", None)
    parts = [
        _("Step-down approved: the student's tier is now %(tier)s.",
          tier=TIER_SHORT[getattr(decision, "to_tier", 0)])
    ]  # fmt: skip
    if getattr(approval, "closed", False):
        parts.append(
            _("The crisis was closed with your summary; it stays in the student's record.")
        )
    elif getattr(approval, "crisis", None) is not None:
        parts.append(_("The crisis stays open: close it from its checklist when it is done."))
    parts.append(_("No message was sent; the requester sees it in the tier history."))
    return " ".join(parts)


def decision_message(
    session: Session, student: Student, decision: Any, *, since: dt.datetime
) -> str:
    """What a person's tier decision did, in words, read back from what was written: a
    step-down that only *waits* (and for whom), a confirmation, or a change (with the crisis
    and the alert a rise to red started: who was alerted, how, and what waits for whom)."""
    if decision is None:
        return _("Nothing was changed.")
    if decision.state == PENDING:
        approvers = people_for(
            session, student.school_id, school_roles=(Role.SCHOOL_LEADER,),
            district=bool(student.district_involved), exclude=decision.decided_by,
        )  # fmt: skip
        waits = _(
            "The step-down from red to %(tier)s is requested, not in effect: the student stays "
            "red until a second person approves it.",
            tier=TIER_SHORT[decision.to_tier],
        )
        if not approvers:
            return " ".join((waits, _("Nobody else can approve it yet: there is no school leader "
                                     "account. Ask your administrator.")))  # fmt: skip
        return " ".join(
            (waits, _("Who can approve it: %(who)s, on their step-down approvals page; no "
                      "message was sent.", who=describe_people(approvers)))
        )  # fmt: skip
    if decision.kind == "confirm":
        return _("Tier %(tier)s confirmed. No message was sent.", tier=TIER_SHORT[decision.to_tier])
    parts = [
        _("Tier changed from %(old)s to %(new)s.", old=TIER_SHORT[decision.from_tier],
          new=TIER_SHORT[decision.to_tier])
    ]  # fmt: skip
    if decision.to_tier == 3 and decision.from_tier < 3:  # a rise to red
        crisis = crisis_for_student(session, student.id)
        if crisis is not None:
            parts.append(_("A crisis checklist is open."))
        alert = session.scalar(
            select(Alert).where(
                Alert.student_id == student.id, Alert.kind.in_(CRISIS_KINDS),
                Alert.state != AlertState.RESOLVED,
            ).order_by(Alert.raised_at.desc()).limit(1)
        )  # fmt: skip
        if alert is not None:
            parts.append(describe_alert(alert_notice(session, alert, since=since)))
    else:
        parts.append(_("No message was sent."))
    return " ".join(parts)


# The screening review page words its confirmations with this (screening sits below crisis
# and cannot import it; see wellbeing.screening.review).
describe_decisions_with(decision_message)
