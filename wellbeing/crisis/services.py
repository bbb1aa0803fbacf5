"""Crisis response (危机快速反应).

A student who becomes red gets an open :class:`Crisis` (one at a time) through the
``TIER_CHANGED`` event. Its checklist (``STEPS``) is worked by the school's psych teacher, the
school leader or a counsellor with access: "acknowledge" comes first, then the other steps in any
order; each step records who and when, once. Closing needs every mandatory step. Guardian
contacts are recorded in a crisis ("guardian notified") or on their own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..alerts import links as alert_links
from ..alerts.events import ALERT_RAISED
from ..alerts.links import When
from ..alerts.models import Alert
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, Role, can, ensure
from ..core.states import IllegalTransition
from ..db import utcnow
from ..followups.models import FollowUp
from ..followups.services import schedule_followup
from ..orgs.models import School
from ..risk.events import TIER_CHANGED, TierChanged
from ..students.chip import chip_fields
from ..students.enrolment import ensure_not_sealed
from ..students.events import STUDENT_TRANSFERRED, StudentTransferred
from ..students.models import Student
from .bulk import on_tier_changed_many
from .errors import CrisisError, clean_text
from .forms import STEP_LABELS
from .guardian_log import record_guardian_contact
from .links import crises_of_alert, crisis_alert_ids, crisis_links, link_alert, link_alerts
from .models import (
    CRISIS_STATES,
    FIRST_STEP,
    MANDATORY_STEPS,
    REFERRAL_OUTCOMES,
    STEPS,
    Crisis,
    CrisisState,
    CrisisStep,
)


class CrisisClosed(IllegalTransition, CrisisError):
    """The crisis is closed already (``CRISIS_STATES``: closed is terminal)."""


# --------------------------------------------------------------------------- opening


def open_crisis(
    session: Session,
    student: Student,
    *,
    decision_id: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> Crisis | None:
    """Open a crisis for ``student`` unless one is open already (then return None)."""
    existing = session.scalar(
        select(Crisis)
        .where(Crisis.student_id == student.id, Crisis.state == CrisisState.OPEN)
        .limit(1)
    )
    if existing is not None:
        return None
    crisis = Crisis(
        student_id=student.id, school_id=student.school_id, state=CrisisState.OPEN,
        opened_at=now or utcnow(), decision_id=decision_id,
        alert_id=crisis_alert_ids(session, [student.id]).get(student.id),
    )  # fmt: skip
    session.add(crisis)
    session.flush()
    audit.record(
        session, AuditAction.CRISIS_UPDATE, object_type="crisis", object_id=crisis.id,
        student_id=student.id, school_id=student.school_id, detail={"step": "open"},
    )  # fmt: skip
    return crisis


def _on_tier_changed(session: Session, change: TierChanged) -> None:
    if change.to_tier == 3 and (change.from_tier or 0) < 3:
        open_crisis(
            session, change.load_student(session), decision_id=change.decision_id,
            now=change.decided_at,
        )  # fmt: skip


TIER_CHANGED.subscribe(_on_tier_changed, many=on_tier_changed_many)


# --------------------------------------------------------------------------- reading


@dataclass
class OpenCrisis:
    crisis: Crisis
    student: Student
    school: School
    steps_done: int
    show_name: bool  # the viewer may read this student's record

    def elapsed_minutes(self, now: dt.datetime) -> int:
        return max(0, int((now - self.crisis.opened_at).total_seconds() // 60))


def open_crises(session: Session, actor: Principal, *, limit: int = 200) -> list[OpenCrisis]:
    """Open crises the actor watches, oldest first: school roles see their schools'; district
    counsellors see every school's, with names only for students escalated to the district."""
    ensure(actor, Permission.CRISIS_MANAGE)
    stmt = (
        select(Crisis, Student, School)
        .join(Student, Student.id == Crisis.student_id)
        .join(School, School.id == Crisis.school_id)
        .where(Crisis.state == CrisisState.OPEN)
        .order_by(Crisis.opened_at)
        .limit(limit)
    )
    if Role.COUNSELLOR not in actor.roles:
        stmt = stmt.where(Crisis.school_id.in_(actor.school_ids() or {uuid.uuid4()}))
    rows = session.execute(stmt).all()
    counts = _step_counts(session, [c.id for c, _, _ in rows])
    result = [
        OpenCrisis(c, s, sch, counts.get(c.id, 0), can(actor, Permission.RECORD_READ, s))
        for c, s, sch in rows
    ]
    audit.record(
        session, AuditAction.CRISIS_VIEW, object_type="crisis_list", object_id="open",
        fields=chip_fields(actor, [r.student for r in result if r.show_name], school=False),
        detail={"students": [str(r.student.id) for r in result if r.show_name]},
    )  # fmt: skip
    return result


def _step_counts(session: Session, crisis_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not crisis_ids:
        return {}
    rows = session.execute(
        select(CrisisStep.crisis_id, func.count()).where(CrisisStep.crisis_id.in_(crisis_ids))
        .group_by(CrisisStep.crisis_id)
    ).all()  # fmt: skip
    return {cid: int(n) for cid, n in rows}


def get_crisis(
    session: Session, actor: Principal, crisis_id: uuid.UUID
) -> tuple[Crisis, Student, dict[str, CrisisStep]] | None:
    crisis = session.get(Crisis, crisis_id)
    if crisis is None:
        return None
    student = session.get_one(Student, crisis.student_id)
    ensure(actor, Permission.CRISIS_MANAGE, student)
    audit.record(
        session, AuditAction.CRISIS_VIEW, object_type="crisis", object_id=crisis.id,
        student_id=crisis.student_id, school_id=crisis.school_id, fields=["steps", "notes"],
    )  # fmt: skip
    return crisis, student, steps_of(session, crisis)


def steps_of(session: Session, crisis: Crisis) -> dict[str, CrisisStep]:
    return {
        s.step: s
        for s in session.scalars(select(CrisisStep).where(CrisisStep.crisis_id == crisis.id))
    }


def step_followups(session: Session, done: dict[str, CrisisStep]) -> dict[uuid.UUID, object]:
    """The follow-ups the checklist scheduled, by id (their due time is shown on the step)."""
    ids = [s.followup_id for s in done.values() if s.followup_id is not None]
    if not ids:
        return {}
    return {f.id: f for f in session.scalars(select(FollowUp).where(FollowUp.id.in_(ids)))}


def crisis_for_student(session: Session, student_id: uuid.UUID) -> Crisis | None:
    return session.scalar(
        select(Crisis)
        .where(Crisis.student_id == student_id, Crisis.state == CrisisState.OPEN)
        .limit(1)
    )


# --------------------------------------------------------------------------- the checklist


def complete_step(
    session: Session,
    actor: Principal,
    crisis: Crisis,
    step: str,
    *,
    note: str | None = None,
    outcome: str | None = None,
    guardian: dict[str, Any] | None = None,
    followup_due: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> CrisisStep:
    """Record one step. ``guardian_notified`` needs ``guardian`` (relation, channel,
    contacted_at, summary) and records a :class:`GuardianContact`; ``referral`` needs
    ``outcome`` ("considered" or "made"); ``followup_scheduled`` needs ``followup_due`` and
    schedules that follow-up through the follow-ups module (a step that records a fact never
    takes a default for it)."""
    student = session.get_one(Student, crisis.student_id)
    ensure(actor, Permission.CRISIS_MANAGE, student)
    ensure_not_sealed(student)
    now = now or utcnow()
    if step not in STEPS:
        raise CrisisError(_l("Unknown checklist step"))
    if crisis.state != CrisisState.OPEN:
        raise CrisisError(_l("This crisis is closed"))
    done = steps_of(session, crisis)
    if step in done:
        raise CrisisError(_l("This step is already done"))
    if step != "acknowledge" and "acknowledge" not in done:
        raise CrisisError(_l("Acknowledge the crisis first"))
    note = clean_text(note, "note")
    row = CrisisStep(crisis_id=crisis.id, step=step, done_at=now, done_by_id=actor.user_id)
    if step == "referral":
        if outcome not in REFERRAL_OUTCOMES:
            raise CrisisError(_l("Say whether a referral was considered or made"))
        row.outcome = outcome
    if step == "guardian_notified":
        if not guardian:
            raise CrisisError(_l("Record the guardian contact"))
        contact = record_guardian_contact(session, actor, student, crisis=crisis, **guardian)
        row.guardian_contact_id = contact.id
    if step == "followup_scheduled":
        row.followup_id = _followup_for_step(session, actor, student, crisis, followup_due, now)
    session.add(row)
    if note:
        row.note = note
    session.flush()
    audit.record(
        session, AuditAction.CRISIS_UPDATE, object_type="crisis", object_id=crisis.id,
        student_id=crisis.student_id, school_id=crisis.school_id, fields=["note"] if note else [],
        detail={"step": step, "outcome": row.outcome},
    )  # fmt: skip
    return row


def _followup_for_step(
    session: Session,
    actor: Principal,
    student: Student,
    crisis: Crisis,
    due: dt.datetime | None,
    now: dt.datetime,
) -> uuid.UUID:
    """Schedule the follow-up at the time the user gave (with the actor as its owner). Ticking
    the step without a time is refused: it would claim a follow-up that nobody arranged."""
    if due is None:
        raise CrisisError(_l("Give the date and time of the follow-up"))
    if due <= now:
        raise CrisisError(_l("The follow-up must be in the future"))
    if not can(actor, Permission.FOLLOWUPS_MANAGE, student):
        raise CrisisError(
            _l("Only the psychology teacher or a counsellor can schedule a follow-up")
        )
    followup = schedule_followup(
        session, actor, student, due_at=due, owner_id=actor.user_id, source="manual",
        source_id=crisis.id,
    )  # fmt: skip
    session.flush()
    return followup.id


def missing_steps(done: dict[str, CrisisStep]) -> list[str]:
    return [s for s in STEPS if s in MANDATORY_STEPS and s not in done]


def close_crisis(
    session: Session,
    actor: Principal,
    crisis: Crisis,
    *,
    summary: str | None,
    tier: int | None,
    confirmed: bool,
    now: dt.datetime | None = None,
) -> Crisis:
    """Close a crisis: every mandatory step done, a closing summary (encrypted), the student's
    confirmed tier stated by the closer (it must be the current tier, not a provisional one) and
    the closer's confirmation. The crisis and its history stay in the student's record."""
    student = session.get_one(Student, crisis.student_id)
    ensure(actor, Permission.CRISIS_MANAGE, student)
    ensure_not_sealed(student)
    check_closable(session, crisis, student, summary=summary, tier=tier, confirmed=confirmed)
    CRISIS_STATES.move(crisis, CrisisState.CLOSED)
    crisis.closed_at, crisis.closed_by_id = now or utcnow(), actor.user_id
    crisis.closed_tier = tier
    crisis.closing_summary = clean_text(summary, "summary")
    audit.record(
        session, AuditAction.CRISIS_UPDATE, object_type="crisis", object_id=crisis.id,
        student_id=crisis.student_id, school_id=crisis.school_id, fields=["closing_summary"],
        detail={"step": "close", "tier": tier},
    )  # fmt: skip
    session.flush()
    return crisis


def check_closable(
    session: Session,
    crisis: Crisis,
    student: Student,
    *,
    summary: str | None,
    tier: int | None,
    confirmed: bool,
) -> None:
    """Raise :class:`CrisisError` unless the crisis may be closed with these inputs (checked
    before anything is written, also by the step-down approval that closes it)."""
    if not CRISIS_STATES.allowed(crisis.state, CrisisState.CLOSED):
        raise CrisisClosed(_l("This crisis is closed"))
    if missing_steps(steps_of(session, crisis)):
        raise CrisisError(_l("Every checklist step must be done before the crisis is closed"))
    if not clean_text(summary, "summary"):
        raise CrisisError(_l("Write the closing summary"))
    if tier is None or tier != student.tier:
        raise CrisisError(
            _l("The tier you confirm must be the student's current tier; change the tier on the "
               "tier page first (a step-down from red needs a second person's approval)")
        )  # fmt: skip
    if student.tier_provisional:
        raise CrisisError(
            _l("The student's tier is still provisional: confirm or change it on the tier page "
               "before closing")
        )  # fmt: skip
    if not confirmed:
        raise CrisisError(_l("Tick the confirmation to close the crisis"))


def crises_of(
    session: Session, student_id: uuid.UUID
) -> list[tuple[Crisis, dict[str, CrisisStep]]]:
    """Every crisis of the student (open and closed), newest first, with its steps (read in
    one query for all of them)."""
    crises = list(
        session.scalars(
            select(Crisis).where(Crisis.student_id == student_id).order_by(Crisis.opened_at.desc())
        )
    )
    steps: dict[uuid.UUID, dict[str, CrisisStep]] = {c.id: {} for c in crises}
    if crises:
        for step in session.scalars(
            select(CrisisStep).where(CrisisStep.crisis_id.in_(list(steps)))
        ):
            steps[step.crisis_id][step.step] = step
    return [(c, steps[c.id]) for c in crises]


def _on_transferred(session: Session, moved: StudentTransferred) -> None:
    """An open crisis follows the student to the new school (its checklist goes with it)."""
    for crisis in session.scalars(
        select(Crisis).where(
            Crisis.student_id == moved.student_id, Crisis.state == CrisisState.OPEN
        )
    ):
        crisis.school_id = moved.new_school_id


STUDENT_TRANSFERRED.subscribe(_on_transferred)


# --------------------------------------------------------------------------- one event


def acknowledge_step(
    session: Session, actor: Principal, alert: Alert, now: dt.datetime
) -> list[object]:
    """Acknowledging the crisis alert records the first checklist step of the crisis it opened
    (when still open and not acknowledged, and the actor may manage it), audited as any step."""
    done: list[object] = []
    for crisis in crises_of_alert(session, alert.id):
        student = session.get(Student, crisis.student_id)
        if (
            crisis.state != CrisisState.OPEN
            or FIRST_STEP in steps_of(session, crisis)
            or not can(actor, Permission.CRISIS_MANAGE, student)
        ):
            continue
        complete_step(session, actor, crisis, FIRST_STEP, now=now)
        done.append(
            _l("Crisis checklist step “%(step)s” recorded for the crisis opened %(when)s.",
              step=STEP_LABELS[FIRST_STEP], when=When(crisis.opened_at))
        )  # fmt: skip
    return done


alert_links.register(links=crisis_links, on_acknowledge=acknowledge_step)
# The crisis may open before its alert is raised (subscriber order): link it when it is.
ALERT_RAISED.subscribe(link_alert, many=link_alerts)
