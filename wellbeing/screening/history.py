"""A student's screening record: the history of their responses and its FHIR export. Each
function takes the acting principal, checks the policy and audits the read in the caller's
transaction."""

from __future__ import annotations

import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, ensure
from ..core.errors import NotFound
from ..students.models import Student
from . import queries


def student_for_screening(session: Session, actor: Principal, student_id: uuid.UUID) -> Student:
    """The student whose screening record ``actor`` reads (NotFound, or Forbidden)."""
    student = session.get(Student, student_id)
    if student is None:
        raise NotFound(_l("This student does not exist."))
    ensure(actor, Permission.SCREENING_READ, student)
    return student


def read_history(
    session: Session, actor: Principal, student: Student
) -> list[queries.HistoryPoint]:
    """The student's responses across campaigns (decrypted totals), audited as a view."""
    ensure(actor, Permission.SCREENING_READ, student)
    points = queries.student_history(session, student.id)
    audit.record(session, AuditAction.SCREENING_VIEW, object_type="student", object_id=student.id, student_id=student.id,
                 school_id=student.school_id, fields=["screening.scores", "screening.bands"])  # fmt: skip
    return points


def fhir_export(
    session: Session, actor: Principal, student: Student, *, base_url: str
) -> dict[str, Any]:
    """The student's responses as a FHIR R4 Bundle, audited as an export of the record."""
    ensure(actor, Permission.SCREENING_READ, student)
    body = queries.fhir_bundle(session, student, base_url=base_url)
    audit.record(session, AuditAction.RECORD_EXPORT, object_type="student", object_id=student.id, student_id=student.id,
                 school_id=student.school_id, fields=["screening.answers", "screening.scores"],
                 detail={"format": "fhir_r4", "responses": len(body["entry"])})  # fmt: skip
    return body
