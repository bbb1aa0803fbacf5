"""Writing a student's plan (一生一策): starting it, the working draft, saving versions,
reviewing, closing; reading it (audited).

Flow (``PLAN_STATES`` in ``models.py``)::

    proposed ──start_plan──▶ draft ──save_version──▶ submitted ──sign──▶ active
                                   ╰─(no sign-off needed)────────────────▶ active
    active ──start_review──▶ review ──save_version──▶ submitted | active
    submitted ──return_version──▶ draft (nothing in effect) | review (a version in effect)
    active | review ──close_plan──▶ closed;   proposed | draft ──cancel_plan──▶ cancelled

Sign-off and what a version taking effect does are in ``signoff.py`` (re-exported here). The
draft (``Plan.draft``) is seen and changed only by those who may write plans on the student
(``PLANS_WRITE``); every write and every read of plan content is audited in the same
transaction, naming fields, never their text.

The proposal when a tier reaches orange or red (:func:`propose_for`, the ``TIER_CHANGED``
subscriber) is in ``review.py``, re-exported here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from babel.lists import format_list
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import Membership, User
from ..concerns.models import Concern, ConcernState
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, ensure
from ..core.errors import NotFound
from ..crisis.models import Crisis, CrisisStep
from ..db import utcnow
from ..risk.policy import policy_for_student
from ..screening.clock import local_today
from ..students.enrolment import ensure_not_sealed
from ..students.models import Student
from . import leaving as leaving  # its STUDENT_LEFT subscription
from . import links as links  # the plan alerts' link to the plan (alerts.links)
from . import tasks
from . import transfer as transfer  # its STUDENT_TRANSFERRED subscription
from .body import MAX_TEXT, PlanError, empty_body, validate
from .diff import FieldChange, compare
from .models import PLAN_STATES, Plan, PlanState, PlanVersion
from .queries import open_plan, version
from .review import on_tier_changed, propose_for
from .signoff import audit_plan, load, needs_signoff, return_version, sign, take_effect

# A review date the writer chooses may be no later than the tier's interval (green: a year).
GREEN_MAX_REVIEW = dt.timedelta(days=365)


def _writer(session: Session, principal: Principal, plan_id: uuid.UUID) -> tuple[Plan, Student]:
    plan, student = load(session, plan_id)
    ensure(principal, Permission.PLANS_WRITE, student)
    ensure_not_sealed(student)
    return plan, student


def _note_writer(plan: Plan, principal: Principal) -> None:
    writers = list(plan.draft_writers or [])
    if principal.user_id.hex not in writers:
        plan.draft_writers = [*writers, principal.user_id.hex]


def _prefill(session: Session, plan: Plan, student: Student) -> dict[str, Any]:
    """The version in effect (or an empty plan), plus the student's open concerns not listed
    yet, and for a red student the latest crisis as the safety step when none is linked."""
    current = version(session, plan.id, plan.effective_version) if plan.effective_version else None
    body = validate(current.body) if current is not None else empty_body()
    body["review_due"] = None
    listed = {c.get("concern_id") for c in body["concerns"]}
    for concern in session.scalars(
        select(Concern)
        .where(Concern.student_id == student.id, Concern.state != ConcernState.ACTED)
        .order_by(Concern.created_at)
    ):
        if concern.id.hex not in listed and len(body["concerns"]) < 30:
            text = (concern.text or "").strip()[:MAX_TEXT] or str(_l("Concern"))
            body["concerns"].append(
                {"id": uuid.uuid4().hex, "text": text, "concern_id": concern.id.hex}
            )
    if body["safety_crisis_id"] is None and student.tier == 3:  # red: the safety step is due
        crisis = session.scalar(
            select(Crisis.id)
            .where(Crisis.student_id == student.id)
            .order_by(Crisis.opened_at.desc())
            .limit(1)
        )
        body["safety_crisis_id"] = crisis.hex if crisis is not None else None
    return body


def start_plan(
    session: Session, principal: Principal, student_id: uuid.UUID, *, now: dt.datetime | None = None
) -> Plan:
    """The student's plan, being written: a proposed one moves to draft, none makes a new
    draft; one in draft or review is returned as it is; one in effect starts its review."""
    student = session.get(Student, student_id)
    if student is None:
        raise NotFound(_l("No such student."))
    ensure(principal, Permission.PLANS_WRITE, student)
    ensure_not_sealed(student)
    now = now or utcnow()
    plan = open_plan(session, student.id)
    if plan is not None and plan.state in (PlanState.DRAFT, PlanState.REVIEW):
        return plan
    if plan is not None and plan.state == PlanState.ACTIVE:
        return start_review(session, principal, plan.id, now=now)
    if plan is not None and plan.state == PlanState.SUBMITTED:
        raise PlanError(_l("The plan is waiting for sign-off."))
    if plan is None:
        plan = Plan(
            id=uuid.uuid4(), student_id=student.id, school_id=student.school_id,
            state=PlanState.DRAFT, created_by=principal.user_id, latest_version=0,
        )  # fmt: skip
        session.add(plan)
    else:
        PLAN_STATES.move(plan, PlanState.DRAFT)
    plan.draft = _prefill(session, plan, student)
    plan.draft_by, plan.draft_updated_at = principal.user_id, now
    _note_writer(plan, principal)
    session.flush()
    audit_plan(session, AuditAction.PLAN_WRITE, plan, fields=["draft"], step="start")
    return plan


def save_draft(
    session: Session,
    principal: Principal,
    plan_id: uuid.UUID,
    body: dict[str, Any],
    *,
    now: dt.datetime | None = None,
) -> Plan:
    """Replace the working copy (validated; completeness waits for :func:`save_version`)."""
    plan, student = _writer(session, principal, plan_id)
    if plan.state not in (PlanState.DRAFT, PlanState.REVIEW):
        raise PlanError(_l("The plan is not being written now."))
    clean = validate(body)
    _check_people(session, student, clean)
    plan.draft = clean
    plan.draft_by, plan.draft_updated_at = principal.user_id, now or utcnow()
    _note_writer(plan, principal)
    session.flush()
    audit_plan(session, AuditAction.PLAN_WRITE, plan, fields=["draft"], step="draft")
    return plan


def _check_people(session: Session, student: Student, body: dict[str, Any]) -> None:
    """Every staff adult is an active user of the student's school."""
    ids = {uuid.UUID(a["user_id"]) for a in body["adults"] if a.get("user_id")}
    if not ids:
        return
    found = set(
        session.scalars(
            select(Membership.user_id)
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.user_id.in_(ids),
                Membership.school_id == student.school_id,
                User.active.is_(True),
            )
        )
    )
    if ids - found:
        raise PlanError(
            _l("%(field)s: a staff member is not a user of the student's school."),
            field=_l("Responsible adults"),
        )


def missing(session: Session, student: Student, body: dict[str, Any]) -> list[str]:
    """What stops the body from being saved as a version (translated, in the reader's
    language; concerns are named by their position, never by their text)."""
    problems: list[str] = []
    if not body["goals"]:
        problems.append(str(_l("at least one goal")))
    covered = {
        cid for g in body["goals"] if g["lifecycle"] != "cancelled" for cid in g["concern_ids"]
    }
    for n, concern in enumerate(body["concerns"], start=1):
        if concern["id"] not in covered:
            problems.append(str(_l("a goal for concern %(n)s", n=n)))
    crisis_id = body.get("safety_crisis_id")
    crisis = session.get(Crisis, uuid.UUID(crisis_id)) if crisis_id else None
    if crisis_id and (crisis is None or crisis.student_id != student.id):
        problems.append(str(_l("a safety step from this student's crisis")))
    elif student.tier == 3:
        done = crisis is not None and session.scalar(
            select(CrisisStep.id).where(
                CrisisStep.crisis_id == crisis.id, CrisisStep.step == "safety_plan"
            )
        )
        if not done:
            problems.append(str(_l("a safety step (the crisis checklist's safety plan, done)")))
    return problems


def _review_due(
    session: Session, student: Student, body: dict[str, Any], today: dt.date
) -> dt.date:
    delta = policy_for_student(session, student).plan_review_delta(student.tier)
    limit = today + (delta or GREEN_MAX_REVIEW)
    chosen = body.get("review_due")
    if not chosen:
        return limit
    due = dt.date.fromisoformat(chosen)
    if not today < due <= limit:
        raise PlanError(
            _l("%(field)s: choose a date after today and no later than %(date)s."),
            field=_l("Next review"), date=limit.isoformat(),
        )  # fmt: skip
    return due


def save_version(
    session: Session, principal: Principal, plan_id: uuid.UUID, *, now: dt.datetime | None = None
) -> PlanVersion:
    """Save the working copy as the next version: complete, or refused with what is missing.
    It is submitted for sign-off when the rules of ``signoff.py`` ask for one, else it takes
    effect at once."""
    plan, student = _writer(session, principal, plan_id)
    if plan.state not in (PlanState.DRAFT, PlanState.REVIEW):
        raise PlanError(_l("The plan is not being written now."))
    now = now or utcnow()
    body = validate(plan.draft)
    _check_people(session, student, body)
    problems = missing(session, student, body)
    if problems:
        raise PlanError(_l("The plan cannot be saved yet. It needs: %(missing)s."),
                        missing=format_list(problems, locale=get_locale()))  # fmt: skip
    review_due = _review_due(session, student, body, local_today(now))
    is_material, required = needs_signoff(session, plan, student.tier, body)
    _note_writer(plan, principal)
    ver = PlanVersion(
        id=uuid.uuid4(), plan_id=plan.id, number=plan.latest_version + 1,
        author_id=principal.user_id, created_at=now, tier=student.tier, review_due=review_due,
        material=is_material, signoff_required=required,
        safety_crisis_id=uuid.UUID(body["safety_crisis_id"]) if body["safety_crisis_id"] else None,
        writers=list(plan.draft_writers or []),
    )  # fmt: skip
    ver.body = body
    session.add(ver)
    plan.latest_version = ver.number
    session.flush()
    tasks.finish_system_tasks(session, plan, principal.user_id, "write_plan", "review_plan")
    if required:
        PLAN_STATES.move(plan, PlanState.SUBMITTED)
        plan.draft, plan.draft_by = None, None
    else:
        take_effect(session, plan, ver, principal.user_id)
    session.flush()
    audit_plan(
        session, AuditAction.PLAN_WRITE, plan, fields=["body"], step="version",
        version=ver.number, material=is_material, signoff_required=required, tier=ver.tier,
    )  # fmt: skip
    return ver


def start_review(
    session: Session, principal: Principal, plan_id: uuid.UUID, *, now: dt.datetime | None = None
) -> Plan:
    """Begin the next version of a plan in effect (which stays in effect meanwhile)."""
    plan, student = _writer(session, principal, plan_id)
    if plan.state != PlanState.ACTIVE:  # the table also allows submitted → review (a return)
        raise PlanError(_l("Only a plan in effect can be reviewed."))
    PLAN_STATES.move(plan, PlanState.REVIEW)
    plan.draft = _prefill(session, plan, student)
    plan.draft_by, plan.draft_updated_at = principal.user_id, now or utcnow()
    plan.draft_writers = [principal.user_id.hex]
    session.flush()
    audit_plan(session, AuditAction.PLAN_WRITE, plan, fields=["draft"], step="review")
    return plan


def _end(
    session: Session,
    principal: Principal,
    plan_id: uuid.UUID,
    reason: str,
    target: PlanState,
    now: dt.datetime | None,
) -> Plan:
    plan, _student = _writer(session, principal, plan_id)
    reason = (reason or "").strip()
    if not reason:
        raise PlanError(_l("Say why."))
    if len(reason) > MAX_TEXT:
        raise PlanError(_l("%(field)s is longer than %(n)s characters."), field=_l("Reason"),
                        n=MAX_TEXT)  # fmt: skip
    PLAN_STATES.move(plan, target)
    plan.close_reason = reason
    plan.closed_at = now or utcnow()
    plan.draft, plan.draft_by, plan.draft_writers = None, None, None
    session.flush()
    tasks.cancel_tasks_for_plan(session, plan)
    audit_plan(session, AuditAction.PLAN_WRITE, plan, fields=["close_reason"], step=str(target))
    return plan


def close_plan(
    session: Session,
    principal: Principal,
    plan_id: uuid.UUID,
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> Plan:
    """End a plan that was in effect (its versions stay as history; open tasks cancelled)."""
    return _end(session, principal, plan_id, reason, PlanState.CLOSED, now)


def cancel_plan(
    session: Session,
    principal: Principal,
    plan_id: uuid.UUID,
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> Plan:
    """Drop a proposal or a first draft that is not needed."""
    return _end(session, principal, plan_id, reason, PlanState.CANCELLED, now)


# --------------------------------------------------------------------------- reading (audited)


def read_plan(session: Session, principal: Principal, plan_id: uuid.UUID) -> Plan:
    """The plan (states, dates, version numbers) for a page; audited."""
    plan, student = load(session, plan_id)
    ensure(principal, Permission.PLANS_READ, student)
    audit_plan(session, AuditAction.PLAN_VIEW, plan, fields=["state", "versions"])
    return plan


def read_version(
    session: Session, principal: Principal, plan_id: uuid.UUID, number: int
) -> PlanVersion:
    """One saved version with its body (returned ones too); audited."""
    plan, student = load(session, plan_id)
    ensure(principal, Permission.PLANS_READ, student)
    ver = version(session, plan.id, number)
    if ver is None:
        raise NotFound(_l("No such version of the plan."))
    audit_plan(session, AuditAction.PLAN_VIEW, plan, fields=["body"], version=number)
    return ver


def read_draft(session: Session, principal: Principal, plan_id: uuid.UUID) -> dict[str, Any]:
    """The working copy, for those who may write plans only; audited."""
    plan, _student = _writer(session, principal, plan_id)
    if plan.state not in (PlanState.DRAFT, PlanState.REVIEW):
        raise PlanError(_l("The plan is not being written now."))
    audit_plan(session, AuditAction.PLAN_VIEW, plan, fields=["draft"])
    return validate(plan.draft) if plan.draft is not None else empty_body()


def compare_versions(
    session: Session, principal: Principal, plan_id: uuid.UUID, old: int, new: int
) -> list[FieldChange]:
    """What changed between two versions, field by field; audited as one read."""
    plan, student = load(session, plan_id)
    ensure(principal, Permission.PLANS_READ, student)
    a, b = version(session, plan.id, old), version(session, plan.id, new)
    if a is None or b is None:
        raise NotFound(_l("No such version of the plan."))
    audit_plan(session, AuditAction.PLAN_VIEW, plan, fields=["body"], compare=[old, new])
    return compare(a.body, b.body)


__all__ = [
    "PlanError", "cancel_plan", "close_plan", "compare_versions", "missing", "on_tier_changed",
    "propose_for", "read_draft", "read_plan", "read_version", "return_version", "save_draft",
    "save_version", "sign", "start_plan", "start_review",
]  # fmt: skip
