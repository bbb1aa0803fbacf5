"""The students module's URL builders for the sensitive-route harness
(``tests/audit/test_sensitive_routes.py`` imports this file at its end): the copy of the record
for a guardian (its form and the download) and the list of students who moved away."""

from __future__ import annotations

from wellbeing.auth.services import build_principal
from wellbeing.orgs.models import SchoolClass
from wellbeing.students.transfer import transfer_student

from ..audit.test_sensitive_routes import Visit, builder
from ..authz import World
from ..factories import make_student


@builder("students.export_form")
def _export_form(w: World) -> Visit:
    return Visit(f"/students/{w.own_student.id}/export", "psych_teacher", w.own_student)


@builder("students.export_copy")
def _export_copy(w: World) -> Visit:
    """The download itself (the copy is made and audited as ``GUARDIAN_COPY``), of the own
    student, whose record the other builders have filled (notes, plans, referrals...)."""
    return Visit(f"/students/{w.own_student.id}/export", "psych_teacher", w.own_student,
                 method="POST", data={"requester": "mother"})  # fmt: skip


@builder("students.moved_away")
def _moved_away(w: World) -> Visit:
    """A new student of the own school moved by the administrator to the other school (of the
    same district): the own school still reads what it wrote, from this list."""
    klass = w.session.get(SchoolClass, w.own_student.class_id)
    student = make_student(w.session, w.own_school, klass)
    w.session.flush()
    admin = build_principal(w.session, w.users["admin"])
    transfer_student(w.session, admin, student, w.other_school.id)
    return Visit("/students/moved-away", "psych_teacher", student)
