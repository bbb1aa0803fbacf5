"""What the alert files share (the services, the bulk raise, the district queue): the refusals,
the crisis kinds and their de-duplication key, and which student names a person may see. Kept
below :mod:`.services` so those files need not import the services back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.authz import Permission, Principal, can
from ..core.errors import DomainError, NotFound
from ..core.states import IllegalTransition as IllegalTransition
from ..students.models import Student
from .models import Alert


class AlertError(DomainError):
    """A refused alert operation (the message is safe to show)."""

    code = "alert_refused"


class AlertNotFound(NotFound, AlertError):
    """No such alert (404)."""


# What each kind of alert is called on pages (the inbox, the queue, the workbench).
KIND_LABELS = {
    "red_tier": _l("New red tier"),
    "critical_item": _l("Critical screening item"),
    "urgent_concern": _l("Urgent concern"),
    "first_response_overdue": _l("First response overdue"),
    "followup_overdue": _l("Follow-up overdue"),
    "referral_sla": _l("Referral past its deadline"),
    "break_glass": _l("Break-glass access"),
    "plan_review_overdue": _l("Plan review overdue"),
    "plan_proposal_overdue": _l("Plan not written in time"),
    "student_transferred_in": _l("Student transferred in"),
}


CRISIS_KINDS = frozenset({"red_tier", "critical_item", "urgent_concern"})


def alert_dedupe_key(
    kind: str, source_id: uuid.UUID | None, student_id: uuid.UUID | None
) -> str | None:
    if source_id is not None:
        return f"{kind}:{source_id}"
    return f"{kind}:student:{student_id}" if student_id is not None else None


def visible_students(
    session: Session, principal: Principal | None, alerts: Sequence[Alert]
) -> dict[uuid.UUID, Student]:
    """The student of each alert (by alert id), only for people with case access to that
    student (least data: the others see kind, school, tier, due time and state)."""
    ids = {a.student_id for a in alerts if a.student_id is not None and a.kind != "break_glass"}
    if not ids or principal is None:
        return {}
    students = {s.id: s for s in session.scalars(select(Student).where(Student.id.in_(ids)))}
    shown: dict[uuid.UUID, Student] = {}
    for alert in alerts:
        student = students.get(alert.student_id) if alert.student_id else None
        if (
            student is not None
            and alert.kind != "break_glass"
            and can(principal, Permission.RECORD_READ, student)
        ):
            shown[alert.id] = student
    return shown


def visible_student_names(
    session: Session, principal: Principal | None, alerts: Sequence[Alert]
) -> dict[uuid.UUID, str]:
    """Student names by alert id, for the same people as :func:`visible_students`."""
    return {k: s.name for k, s in visible_students(session, principal, alerts).items()}
