"""The referrals section of the growth record (the student's referrals: state, partner, urgency,
the milestone waited for, a link to each referral's page; the start button for psychology
teachers), and what the referral pages share with it: the labels a page needs, the people a
move tells, and the audit of a page that names a student and no referral.

The referral's content (reasons, feedback) is read on its own page through
``services.read_referral`` (audited there)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.names import user_names
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, can, ensure
from ..core.errors import NotFound
from ..core.states import state_label
from ..screening.engine.instruments import Scale, builtin_instruments
from ..students.chip import chip_fields
from ..students.models import Student
from ..students.record import SectionResult, section
from . import notices, queries
from .models import (
    OPEN_STATES,
    OUTCOME_LABELS,
    PARTNER_KIND_LABELS,
    PARTNER_SERVICE_LABELS,
    URGENCY_LABELS,
    HealthPartner,
    Referral,
    ReferralState,
)
from .sla import MILESTONE_LABELS

RECORD_LIMIT = 20
OPEN = frozenset(str(s) for s in OPEN_STATES)
SECTION_FIELDS = ("referral.state", "referral.partner", "referral.urgency", "referral.due")
LABELS: dict[str, Any] = {
    "urgency": URGENCY_LABELS,
    "outcome": OUTCOME_LABELS,
    "milestone": MILESTONE_LABELS,
    "kind": PARTNER_KIND_LABELS,
    "service": PARTNER_SERVICE_LABELS,
}
# The urgency a new referral starts with, from the student's tier (the sender may change it).
URGENCY_FOR_TIER = {3: "urgent", 2: "soon"}


def student_or_404(
    session: Session, principal: Principal, permission: Permission, student_id: uuid.UUID
) -> Student:
    student = session.get(Student, student_id)
    if student is None:
        raise NotFound(_l("There is no such student."))
    ensure(principal, permission, student)
    return student


def audit_student(session: Session, principal: Principal, student: Student, *extra: str) -> None:
    """The ``STUDENT_VIEW`` of a page that names the student and no referral content."""
    audit.record(
        session, AuditAction.STUDENT_VIEW, object_type="student", object_id=student.id,
        student_id=student.id, school_id=student.school_id,
        fields=[*chip_fields(principal, [student]), *extra],
    )  # fmt: skip


def audit_list(
    session: Session, principal: Principal, what: str, students: Sequence[Student]
) -> None:
    """A list of referrals naming ``students`` with their chips (state, partner, deadline)."""
    audit.record(
        session, AuditAction.STUDENT_LIST, object_type=what,
        fields=[*chip_fields(principal, students), *SECTION_FIELDS],
        detail={"students": [str(s.id) for s in students]},
    )  # fmt: skip


def partner_names(session: Session, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(HealthPartner.id, HealthPartner.name)
                           .where(HealthPartner.id.in_(wanted)))  # fmt: skip
    return {row[0]: row[1] for row in rows}


def students_of(session: Session, referrals: Sequence[Referral]) -> dict[uuid.UUID, Student]:
    ids = {r.student_id for r in referrals}
    if not ids:
        return {}
    return {s.id: s for s in session.scalars(select(Student).where(Student.id.in_(ids)))}


def told_names(
    session: Session, referral: Referral, whom: Sequence[str], me: uuid.UUID
) -> list[str]:
    """The names of the people a move told (``notices.people``, without the mover)."""
    names: dict[uuid.UUID, str] = {}
    for who in whom:
        for user in notices.people(session, referral, who):
            if user.id != me:
                names[user.id] = user.display_name or user.username
    return list(names.values())


def _scale(instrument: str, scale: str) -> Scale | None:
    found = builtin_instruments().get(instrument)
    if found is None:
        return None
    return next((s for s in found.scales if s.code == scale), None)


def band_name(instrument: str, scale: str, band: str | None) -> str:
    """A scale's band as people read it (the code itself when the instrument is unknown)."""
    found = _scale(instrument, scale)
    label = next((b.label for b in found.bands if b.code == band), None) if found else None
    return label.get(str(get_locale() or "zh_CN")) if label is not None else (band or "")


def scale_name(instrument: str, scale: str) -> str:
    found = _scale(instrument, scale)
    return found.name.get(str(get_locale() or "zh_CN")) if found is not None else scale


def loinc_of(instrument: str, scale: str) -> str | None:
    found = builtin_instruments().get(instrument)
    return found.loinc(scale) if found is not None else None


def state_names(referrals: Sequence[Referral]) -> dict[uuid.UUID, str]:
    return {r.id: str(state_label(ReferralState(r.state))) for r in referrals}


@section("referrals", order=48)
def referrals_section(session: Session, principal: Principal, student: Student) -> SectionResult:
    if not can(principal, Permission.REFERRALS_READ, student):
        return None
    every = queries.student_referrals(session, student.id)
    rows = every[:RECORD_LIMIT]
    may_create = can(principal, Permission.REFERRALS_CREATE, student)
    if not rows and not may_create:
        return None
    context = {
        "rows": rows,
        "states": state_names(rows),
        "partners": partner_names(session, {r.partner_id for r in rows}),
        "labels": LABELS,
        # No second query: the open referral (queries.open_referral) is among them.
        "may_create": may_create and not any(r.state in OPEN for r in every),
        "limit": RECORD_LIMIT,
        "names": user_names(session, {r.created_by for r in rows}),
    }
    return "referrals/_record_section.html", context, SECTION_FIELDS if rows else ["referral"]
