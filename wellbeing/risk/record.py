"""The tier part of the growth record: the student's tier and, for those who manage it, the
special-care categories held for the student."""

from __future__ import annotations

from flask_babel import get_locale
from sqlalchemy.orm import Session

from ..core.authz import Permission, Principal, can
from ..students.models import Student
from ..students.record import SectionResult, section
from .policy import policy_for_student
from .special_care import get_special_care


@section("tier", order=5)
def tier_section(session: Session, principal: Principal, student: Student) -> SectionResult:
    if not can(principal, Permission.RECORD_READ, student):
        return None
    policy = policy_for_student(session, student)
    fields = ["tier"]
    care_labels = None
    if can(principal, Permission.SPECIAL_CARE_MANAGE, student):
        locale = str(get_locale() or "zh")
        care_labels = [policy.category_label(c, locale) for c in get_special_care(student)]
        fields.append("special_care")
    context = {
        "may_decide": can(principal, Permission.TIER_DECIDE, student),
        "care_labels": care_labels,
    }
    return "risk/_record_section.html", context, fields
