"""Creating and changing the organisation. Admin-only; every change is audited."""

from __future__ import annotations

import re
import uuid

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import audit
from ..core.authz import Permission, Principal, ensure
from ..core.errors import DomainError
from .models import GRADE_RANGE, District, School, SchoolClass

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


class OrgError(DomainError):
    """Refused input for schools, classes, users or roles; the message is shown to the user
    (a lazy template with named parameters, translated when shown)."""

    code = "org_refused"


def default_district(session: Session) -> District:
    district = session.scalar(select(District).order_by(District.created_at).limit(1))
    if district is None:
        raise OrgError(
            _l(
                "no district exists yet: create one with `wellbeing demo` or `wellbeing schools add`"
            )
        )
    return district


def ensure_district(session: Session, code: str = "district", name: str = "District") -> District:
    district = session.scalar(select(District).where(District.code == code))
    if district is None:
        district = District(code=code, name=name)
        session.add(district)
        session.flush()
    return district


def school_by_code(session: Session, code: str) -> School | None:
    return session.scalar(select(School).where(School.code == code))


def create_school(session: Session, actor: Principal | None, code: str, name: str) -> School:
    """``actor`` None means the CLI (the operator is trusted, the entry names them)."""
    if actor is not None:
        ensure(actor, Permission.SCHOOLS_MANAGE)
    code, name = code.strip(), name.strip()
    if not CODE_RE.match(code):
        raise OrgError(_l("school code must be 1-32 letters, digits, '-' or '_'"))
    if not name or len(name) > 200:
        raise OrgError(_l("school name must be 1-200 characters"))
    if school_by_code(session, code) is not None:
        raise OrgError(_l("a school with code %(code)s already exists"), code=code)
    district = session.scalar(select(District).limit(1)) or ensure_district(session)
    school = School(district_id=district.id, code=code, name=name)
    session.add(school)
    session.flush()
    audit.record(session, audit.AuditAction.SCHOOL_CREATE, object_type="school", object_id=school.id,
                 school_id=school.id, fields=["code", "name"])  # fmt: skip
    return school


def update_school(
    session: Session, actor: Principal, school: School, name: str, active: bool
) -> None:
    ensure(actor, Permission.SCHOOLS_MANAGE)
    if not name.strip() or len(name) > 200:
        raise OrgError(_l("school name must be 1-200 characters"))
    school.name, school.active = name.strip(), active
    audit.record(session, audit.AuditAction.SCHOOL_UPDATE, object_type="school", object_id=school.id,
                 school_id=school.id, fields=["name", "active"])  # fmt: skip


def find_class(
    session: Session, school_id: uuid.UUID, grade: int, label: str
) -> SchoolClass | None:
    return session.scalar(
        select(SchoolClass).where(
            SchoolClass.school_id == school_id,
            SchoolClass.grade == grade,
            SchoolClass.label == label,
        )
    )


def create_class(
    session: Session, actor: Principal | None, school: School, grade: int, label: str
) -> SchoolClass:
    if actor is not None:
        ensure(actor, Permission.SCHOOLS_MANAGE)
    label = label.strip()
    if grade not in GRADE_RANGE:
        raise OrgError(_l("grade must be between 1 and 12"))
    if not label or len(label) > 40:
        raise OrgError(_l("class name must be 1-40 characters"))
    if find_class(session, school.id, grade, label) is not None:
        raise OrgError(_l("this class already exists"))
    school_class = SchoolClass(school_id=school.id, grade=grade, label=label)
    session.add(school_class)
    session.flush()
    audit.record(session, audit.AuditAction.CLASS_CREATE, object_type="class", object_id=school_class.id,
                 school_id=school.id, detail={"grade": grade})  # fmt: skip
    return school_class
