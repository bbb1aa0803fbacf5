"""Sign-off of plan versions, and what happens when a version takes effect.

The rules (issue 14 §3, DESIGN.md §1):

* A version of the plan of an orange or red student (the tier *when it is saved*) needs a
  sign-off when it is the first one signed for the plan or changes the plan materially
  (``body.material``) against the version last signed. Otherwise (and for yellow and green
  students) it takes effect as soon as it is saved.
* The sign-off is by a school leader of the student's school or a district counsellor
  (``PLANS_SIGNOFF`` on the student), never by the version's author nor by anyone who wrote the
  draft it was saved from (``PlanVersion.writers``; Primero needs a separate permission to
  approve one's own case, we simply forbid it).
* A sign-off decision is a row appended to ``plan_signoff`` (who, when, which version, in which
  role): ``signed`` puts the version in effect; ``returned`` (with a reason) sends the plan back
  to ``draft`` (nothing in effect yet) or ``review`` (the signed version stays in effect), with
  the returned version's body as the working copy. The returned version stays readable.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission, Principal, Role, ensure
from ..core.errors import NotFound
from ..db import utcnow
from ..students.enrolment import ensure_not_sealed
from ..students.models import Student
from .body import MAX_TEXT, PlanError, material
from .models import PLAN_STATES, Plan, PlanSignoff, PlanState, PlanVersion
from .queries import last_signed, version
from .tasks import sync_from_version

SIGNOFF_TIERS = (2, 3)  # orange, red


def load(session: Session, plan_id: uuid.UUID) -> tuple[Plan, Student]:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(_l("No such plan."))
    return plan, session.get_one(Student, plan.student_id)


def audit_plan(
    session: Session,
    action: AuditAction,
    plan: Plan,
    *,
    fields: list[str] | None = None,
    **detail: Any,
) -> None:
    """One entry about ``plan``: states, numbers and field *names*, never the plan's text."""
    audit.record(
        session, action, object_type="plan", object_id=plan.id, student_id=plan.student_id,
        school_id=plan.school_id, fields=fields or [], detail={"state": plan.state, **detail},
    )  # fmt: skip


def needs_signoff(
    session: Session, plan: Plan, tier: int, body: dict[str, Any]
) -> tuple[bool, bool]:
    """(material, signoff_required) for a version of ``plan`` with ``body`` saved at ``tier``."""
    signed = last_signed(session, plan.id)
    changed = material(signed.body if signed is not None else None, body)
    return changed, tier in SIGNOFF_TIERS and changed


def take_effect(session: Session, plan: Plan, ver: PlanVersion, actor_id: uuid.UUID | None) -> None:
    """``ver`` is now the plan in effect: its review date, its tasks; the draft is done."""
    PLAN_STATES.move(plan, PlanState.ACTIVE)
    plan.effective_version = ver.number
    plan.review_due = ver.review_due
    plan.review_alerted_at = None
    plan.draft, plan.draft_by, plan.draft_writers = None, None, None
    session.flush()
    sync_from_version(session, plan, ver, actor_id)


def _signer_role(principal: Principal, student: Student) -> str:
    if student.school_id in principal.school_ids(Role.SCHOOL_LEADER):
        return str(Role.SCHOOL_LEADER)
    if Role.COUNSELLOR in principal.roles:
        return str(Role.COUNSELLOR)
    return str(principal.primary_role or "")


def may_decide(principal: Principal, ver: PlanVersion) -> bool:
    """Not the author, nor anyone who wrote the draft (the permission is checked apart)."""
    return principal.user_id != ver.author_id and principal.user_id.hex not in (ver.writers or [])


def _submitted(
    session: Session, principal: Principal, plan_id: uuid.UUID, number: int
) -> tuple[Plan, Student, PlanVersion]:
    plan, student = load(session, plan_id)
    ensure(principal, Permission.PLANS_SIGNOFF, student)
    ensure_not_sealed(student)
    ver = version(session, plan.id, number)
    if ver is None:
        raise NotFound(_l("No such version of the plan."))
    if plan.state != PlanState.SUBMITTED or number != plan.latest_version:
        raise PlanError(_l("This version is not waiting for sign-off."))
    if not may_decide(principal, ver):
        raise Forbidden(
            Permission.PLANS_SIGNOFF, plan, rule="plan_author_cannot_sign",
            message=_l("A plan is signed off by someone who did not write it."),
        )  # fmt: skip
    return plan, student, ver


def sign(
    session: Session,
    principal: Principal,
    plan_id: uuid.UUID,
    version_number: int,
    *,
    now: dt.datetime | None = None,
) -> PlanSignoff:
    """Sign the submitted version: it takes effect (tasks, review date)."""
    plan, student, ver = _submitted(session, principal, plan_id, version_number)
    row = PlanSignoff(
        id=uuid.uuid4(), plan_id=plan.id, version_id=ver.id, decision="signed",
        by_id=principal.user_id, role=_signer_role(principal, student), created_at=now or utcnow(),
    )  # fmt: skip
    session.add(row)
    session.flush()
    take_effect(session, plan, ver, principal.user_id)
    audit_plan(session, AuditAction.PLAN_SIGNOFF, plan, decision="signed", version=ver.number,
               role=row.role)  # fmt: skip
    return row


def return_version(
    session: Session,
    principal: Principal,
    plan_id: uuid.UUID,
    version_number: int,
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> PlanSignoff:
    """Send the submitted version back to be rewritten, saying why (encrypted)."""
    plan, student, ver = _submitted(session, principal, plan_id, version_number)
    reason = (reason or "").strip()
    if not reason:
        raise PlanError(_l("Say why the plan is returned."))
    if len(reason) > MAX_TEXT:
        raise PlanError(_l("%(field)s is longer than %(n)s characters."), field=_l("Reason"),
                        n=MAX_TEXT)  # fmt: skip
    row = PlanSignoff(
        id=uuid.uuid4(), plan_id=plan.id, version_id=ver.id, decision="returned",
        by_id=principal.user_id, role=_signer_role(principal, student), created_at=now or utcnow(),
    )  # fmt: skip
    row.reason = reason
    session.add(row)
    back = PlanState.DRAFT if plan.effective_version is None else PlanState.REVIEW
    PLAN_STATES.move(plan, back)
    # The returned text is the working copy again; its writers stay barred from signing it.
    plan.draft = ver.body
    plan.draft_writers = list(ver.writers or [])
    plan.draft_by, plan.draft_updated_at = ver.author_id, now or utcnow()
    session.flush()
    audit_plan(session, AuditAction.PLAN_SIGNOFF, plan, fields=["reason"], decision="returned",
               version=ver.number, role=row.role)  # fmt: skip
    return row


__all__ = [
    "SIGNOFF_TIERS", "audit_plan", "load", "may_decide", "needs_signoff", "return_version", "sign",
    "take_effect",
]  # fmt: skip
