"""The screening part of the growth record: the student's scores over time (the same chart and
table as the student's screening history page)."""

from __future__ import annotations

from flask_babel import get_locale
from sqlalchemy.orm import Session

from ..core.authz import Permission, Principal, can
from ..students.models import Student
from ..students.record import SectionResult, section
from .views import history_context

FIELDS = ["screening.scores", "screening.bands"]


@section("screening", order=30)
def screening_section(session: Session, principal: Principal, student: Student) -> SectionResult:
    if not can(principal, Permission.SCREENING_READ, student):
        return None
    context = history_context(session, student, str(get_locale()))
    if not context["points"]:
        return None
    return "screening/_history.html", context, FIELDS
