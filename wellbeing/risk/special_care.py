"""Special-care categories: the district policy's codes kept (encrypted) on the student, a
priority marker for queues and dashboards."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, ensure
from ..students.enrolment import ensure_not_sealed
from ..students.models import Student
from .decisions import TierError
from .policy import Policy, policy_for_student


def get_special_care(student: Student) -> list[str]:
    """The student's special-care category codes (decrypted; callers check access)."""
    if student.special_care_ct is None:
        return []
    value = student.special_care
    return [str(c) for c in value] if isinstance(value, list) else []


def has_special_care(student: Student) -> bool:
    """Priority marker for queues and dashboards (no decryption when there is none)."""
    return student.special_care_ct is not None and bool(get_special_care(student))


# SQL expression for ordering/filtering queues: True when the student has any category
# (set_special_care stores NULL, never an empty list).
special_care_marker = Student.special_care_ct.is_not(None)


def set_special_care(
    session: Session, actor: Principal | None, student: Student, codes: Iterable[str]
) -> list[str]:
    """Replace the student's special-care categories with ``codes`` (codes of the district's
    policy). Audited with the count only: even the codes are sensitive."""
    if actor is not None:
        ensure(actor, Permission.SPECIAL_CARE_MANAGE, student)
        ensure_not_sealed(student)
    policy: Policy = policy_for_student(session, student)
    wanted = set(codes)
    held = get_special_care(student)
    if wanted - set(policy.special_care_codes) - set(held):
        raise TierError(_l("unknown special-care category"))
    # Codes the district no longer lists stay while kept (history), then the policy's order.
    kept = [c for c in held if c not in policy.special_care_codes and c in wanted]
    ordered = kept + [c for c in policy.special_care_codes if c in wanted]
    student.special_care = ordered or None
    session.flush()
    audit.record(
        session,
        AuditAction.SPECIAL_CARE_CHANGE,
        object_type="student",
        object_id=student.id,
        student_id=student.id,
        school_id=student.school_id,
        fields=["special_care"],
        detail={"count": len(ordered)},
    )
    return ordered
