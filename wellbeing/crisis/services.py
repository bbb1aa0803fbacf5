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

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.names import user_names
from ..core import audit, events
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, Role, can, ensure
from ..db import utcnow
from ..orgs.models import School
from ..students.models import Student
from .bulk import on_tier_changed_many
from .forms import CHANNEL_LABELS, OUTCOME_LABELS, RELATION_LABELS, STEP_LABELS
from .models import (
    CHANNELS,
    MANDATORY_STEPS,
    REFERRAL_OUTCOMES,
    RELATIONS,
    STEPS,
    Crisis,
    CrisisStep,
    GuardianContact,
)

MAX_TEXT = 4000


class CrisisError(ValueError):
    """Refused input or an illegal change; the message is safe to show."""


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
        select(Crisis).where(Crisis.student_id == student.id, Crisis.status == "open").limit(1)
    )
    if existing is not None:
        return None
    crisis = Crisis(
        student_id=student.id, school_id=student.school_id, status="open",
        opened_at=now or utcnow(), decision_id=decision_id,
    )  # fmt: skip
    session.add(crisis)
    session.flush()
    audit.record(
        session, AuditAction.CRISIS_UPDATE, object_type="crisis", object_id=crisis.id,
        student_id=student.id, school_id=student.school_id, detail={"step": "open"},
    )  # fmt: skip
    return crisis


def _on_tier_changed(
    session: Session, student: Student, old_tier: int, new_tier: int, decision: object = None
) -> None:
    if new_tier == 3 and (old_tier or 0) < 3:
        open_crisis(
            session, student, decision_id=getattr(decision, "id", None),
            now=getattr(decision, "decided_at", None),
        )  # fmt: skip


events.subscribe(events.TIER_CHANGED, _on_tier_changed, many=on_tier_changed_many)


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
        .where(Crisis.status == "open")
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
        fields=["name"], detail={"students": [str(r.student.id) for r in result if r.show_name]},
    )  # fmt: skip
    return result


def _step_counts(session: Session, crisis_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not crisis_ids:
        return {}
    from sqlalchemy import func

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
    student = session.get(Student, crisis.student_id)
    ensure(actor, Permission.CRISIS_MANAGE, student)
    audit.record(
        session, AuditAction.CRISIS_VIEW, object_type="crisis", object_id=crisis.id,
        student_id=crisis.student_id, school_id=crisis.school_id, fields=["steps", "notes"],
    )  # fmt: skip
    return crisis, student, steps_of(session, crisis)  # type: ignore[return-value]


def steps_of(session: Session, crisis: Crisis) -> dict[str, CrisisStep]:
    return {
        s.step: s
        for s in session.scalars(select(CrisisStep).where(CrisisStep.crisis_id == crisis.id))
    }


def step_followups(session: Session, done: dict[str, CrisisStep]) -> dict[uuid.UUID, object]:
    """The follow-ups the checklist scheduled, by id (their due time is shown on the step)."""
    from ..followups.models import FollowUp

    ids = [s.followup_id for s in done.values() if s.followup_id is not None]
    if not ids:
        return {}
    return {f.id: f for f in session.scalars(select(FollowUp).where(FollowUp.id.in_(ids)))}


def crisis_for_student(session: Session, student_id: uuid.UUID) -> Crisis | None:
    return session.scalar(
        select(Crisis).where(Crisis.student_id == student_id, Crisis.status == "open").limit(1)
    )


# --------------------------------------------------------------------------- the checklist


def clean_text(text: str | None, what: str) -> str | None:
    text = (text or "").strip() or None
    if text and len(text) > MAX_TEXT:
        raise CrisisError(_l("The text is longer than %(n)s characters", n=MAX_TEXT))
    return text


def complete_step(
    session: Session,
    actor: Principal,
    crisis: Crisis,
    step: str,
    *,
    note: str | None = None,
    outcome: str | None = None,
    guardian: dict[str, object] | None = None,
    followup_due: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> CrisisStep:
    """Record one step. ``guardian_notified`` needs ``guardian`` (relation, channel,
    contacted_at, summary) and records a :class:`GuardianContact`; ``referral`` needs
    ``outcome`` ("considered" or "made"); ``followup_scheduled`` needs ``followup_due`` and
    schedules that follow-up through the follow-ups module (a step that records a fact never
    takes a default for it)."""
    student = session.get(Student, crisis.student_id)
    ensure(actor, Permission.CRISIS_MANAGE, student)
    now = now or utcnow()
    if step not in STEPS:
        raise CrisisError(_l("Unknown checklist step"))
    if crisis.status != "open":
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
        contact = record_guardian_contact(session, actor, student, crisis=crisis, **guardian)  # type: ignore[arg-type]
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
    from ..followups.services import schedule_followup

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
    student = session.get(Student, crisis.student_id)
    ensure(actor, Permission.CRISIS_MANAGE, student)
    check_closable(session, crisis, student, summary=summary, tier=tier, confirmed=confirmed)
    crisis.status, crisis.closed_at, crisis.closed_by_id = "closed", now or utcnow(), actor.user_id
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
    if crisis.status != "open":
        raise CrisisError(_l("This crisis is closed"))
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
    """Every crisis of the student (open and closed), newest first, with its steps."""
    crises = list(
        session.scalars(
            select(Crisis).where(Crisis.student_id == student_id).order_by(Crisis.opened_at.desc())
        )
    )
    return [(c, steps_of(session, c)) for c in crises]


# --------------------------------------------------------------------------- guardian contacts


def record_guardian_contact(
    session: Session,
    actor: Principal,
    student: Student,
    *,
    relation: str,
    channel: str,
    contacted_at: dt.datetime,
    summary: str,
    crisis: Crisis | None = None,
) -> GuardianContact:
    ensure(actor, Permission.CRISIS_MANAGE, student)
    if relation not in RELATIONS:
        raise CrisisError(_l("Choose which guardian"))
    if channel not in CHANNELS:
        raise CrisisError(_l("Choose how the guardian was contacted"))
    if contacted_at is None or contacted_at.tzinfo is None:
        raise CrisisError(_l("Give the time of the contact"))
    if contacted_at > utcnow() + dt.timedelta(minutes=5):
        raise CrisisError(_l("The contact cannot be in the future"))
    summary_text = clean_text(summary, "summary")
    if not summary_text:
        raise CrisisError(_l("Write what was said"))
    contact = GuardianContact(
        student_id=student.id, school_id=student.school_id, crisis_id=crisis.id if crisis else None,
        staff_id=actor.user_id, relation=relation, channel=channel, contacted_at=contacted_at,
        summary=summary_text,
    )  # fmt: skip
    session.add(contact)
    session.flush()
    audit.record(
        session, AuditAction.GUARDIAN_CONTACT, object_type="guardian_contact", object_id=contact.id,
        student_id=student.id, school_id=student.school_id, fields=["summary"],
        detail={"relation": relation, "channel": channel, "in_crisis": crisis is not None},
    )  # fmt: skip
    return contact


def guardian_contacts(
    session: Session, actor: Principal, student: Student, *, audited: bool = True
) -> list[GuardianContact]:
    ensure(actor, Permission.CRISIS_MANAGE, student)
    rows = list(
        session.scalars(
            select(GuardianContact).where(GuardianContact.student_id == student.id)
            .order_by(GuardianContact.contacted_at.desc())
        )
    )  # fmt: skip
    if audited:
        audit.record(
            session, AuditAction.GUARDIAN_CONTACT_VIEW, object_type="student", object_id=student.id,
            student_id=student.id, school_id=student.school_id, fields=["summary"],
        )  # fmt: skip
    return rows


def _on_transferred(session: Session, student: Student, old_school_id: uuid.UUID) -> None:
    """An open crisis follows the student to the new school (its checklist goes with it)."""
    for crisis in session.scalars(
        select(Crisis).where(Crisis.student_id == student.id, Crisis.status == "open")
    ):
        crisis.school_id = student.school_id


events.subscribe(events.STUDENT_TRANSFERRED, _on_transferred)


def _record_section(session: Session, principal: Principal, student: Student):  # type: ignore[no-untyped-def]
    """The crisis part of the growth record: the open crisis and the guardian contacts."""
    if not can(principal, Permission.CRISIS_MANAGE, student):
        return None

    contacts = guardian_contacts(session, principal, student, audited=False)
    crises = crises_of(session, student.id)
    people = {c.closed_by_id for c, _ in crises} | {
        s.done_by_id for _, steps in crises for s in steps.values()
    }
    labels = {
        "relation": dict(RELATION_LABELS), "channel": dict(CHANNEL_LABELS), "step": STEP_LABELS,
        "outcome": dict(OUTCOME_LABELS),
    }  # fmt: skip
    context = {
        "contacts": contacts,
        "crisis": crisis_for_student(session, student.id),
        "crises": crises,
        "steps": STEPS,
        "names": user_names(session, people),
        "labels": labels,
    }
    return "crisis/section.html", context, ["guardian_contacts", "crisis", "closing_summary"]


try:
    from ..students.record import section as _section
except ImportError:  # pragma: no cover - the record arrives with the students module
    pass
else:
    _section("crisis", order=60)(_record_section)
