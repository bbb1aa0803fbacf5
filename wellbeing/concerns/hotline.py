"""The district hotline (心理咨询热线): logging calls, their statistics, reading one call.

A call about an identified student becomes a concern on that student through the same path as
a staff concern (:func:`.services.report_concern`); an anonymous call stays a record counted in
the statistics only.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, ensure
from ..crisis.notices import report_message
from ..db import utcnow
from ..orgs.services import default_district
from .models import CALLER_TYPES, HOTLINE_TOPICS, RISK_LEVELS, HotlineCall
from .services import (
    MAX_TEXT,
    ConcernError,
    ConcernReport,
    category_for_topics,
    find_student_by_number,
    report_concern,
    urgency_for_risk,
)


def log_hotline_call(session: Session, actor: Principal, **kwargs: Any) -> HotlineCall:
    """Record a call (:func:`record_hotline_call`, the call only)."""
    return record_hotline_call(session, actor, **kwargs)[0]


def record_hotline_call(
    session: Session,
    actor: Principal,
    *,
    called_at: dt.datetime,
    duration_minutes: int,
    caller_type: str,
    topics: list[str],
    risk_level: int,
    notes: str | None,
    school_id: uuid.UUID | None = None,
    student_number: str | None = None,
) -> tuple[HotlineCall, ConcernReport | None]:
    """Record a call. With a school and a student number the call is about an identified student
    and becomes a concern on that student (same path as a staff concern, whose report is
    returned); otherwise it stays an anonymous record counted in statistics only."""
    ensure(actor, Permission.HOTLINE_LOG)
    if caller_type not in CALLER_TYPES:
        raise ConcernError(_l("Unknown caller type"))
    if not topics or any(t not in HOTLINE_TOPICS for t in topics):
        raise ConcernError(_l("Choose at least one topic"))
    if risk_level not in RISK_LEVELS:
        raise ConcernError(_l("Unknown risk level"))
    if not 0 <= duration_minutes <= 600:
        raise ConcernError(_l("Duration must be 0–600 minutes"))
    if called_at.tzinfo is None:
        raise ConcernError(_l("The call time needs a time zone"))
    notes = (notes or "").strip() or None
    if notes and len(notes) > MAX_TEXT:
        raise ConcernError(_l("The notes are longer than %(n)s characters"), n=MAX_TEXT)
    student = None
    if student_number and student_number.strip():
        if school_id is None:
            raise ConcernError(_l("Choose the student's school"))
        student = find_student_by_number(session, school_id, student_number)
        if student is None:
            raise ConcernError(_l("No student with this number at this school"))
        if not notes:
            raise ConcernError(_l("A call about a student needs notes (they become the concern)"))
    district_id = next((s.district_id for s in actor.scopes if s.district_id), None)
    call = HotlineCall(
        district_id=district_id or default_district(session).id, counsellor_id=actor.user_id,
        called_at=called_at, duration_minutes=duration_minutes, caller_type=caller_type,
        anonymous=student is None, risk_level=risk_level,
        school_id=student.school_id if student else None, student_id=student.id if student else None,
        topics=sorted(set(topics)), notes=notes,
    )  # fmt: skip
    session.add(call)
    session.flush()
    audit.record(
        session, AuditAction.HOTLINE_CALL, object_type="hotline_call", object_id=call.id,
        student_id=call.student_id, school_id=call.school_id, fields=["topics", "notes"],
        detail={"anonymous": call.anonymous, "risk_level": risk_level, "caller_type": caller_type},
    )  # fmt: skip
    report = None
    if student is not None:
        report = report_concern(
            session, actor, student, category=category_for_topics(topics),
            urgency=urgency_for_risk(risk_level), text=notes or "", source="hotline",
            hotline_call_id=call.id, now=called_at if called_at <= utcnow() else None,
        )  # fmt: skip
    return call, report


def hotline_message(report: ConcernReport | None) -> str:
    """The counsellor's confirmation of a logged call, built from what was done."""
    if report is None:
        return _("Call recorded (anonymous): it counts in the statistics; nobody was notified.")
    return report_message(report.alert, report.queue, hotline=True)


def hotline_calls(session: Session, actor: Principal, limit: int = 100) -> list[HotlineCall]:
    """Recent calls (metadata only: no notes, no student names)."""
    ensure(actor, Permission.HOTLINE_LOG)
    return list(
        session.scalars(select(HotlineCall).order_by(HotlineCall.called_at.desc()).limit(limit))
    )


def hotline_stats(
    session: Session, actor: Principal, since: dt.datetime
) -> dict[str, dict[str, int]]:
    """Counts since ``since`` by risk level, caller type and anonymous/identified."""
    ensure(actor, Permission.HOTLINE_LOG)
    result: dict[str, dict[str, int]] = {}
    for name, column in (
        ("risk_level", HotlineCall.risk_level), ("caller_type", HotlineCall.caller_type),
        ("anonymous", HotlineCall.anonymous),
    ):  # fmt: skip
        rows = session.execute(
            select(column, func.count()).where(HotlineCall.called_at >= since).group_by(column)
        ).all()
        if name == "anonymous":
            result[name] = {("anonymous" if k else "identified"): int(v) for k, v in rows}
        else:
            result[name] = {str(k): int(v) for k, v in rows}
    return result


def get_hotline_call(session: Session, actor: Principal, call_id: uuid.UUID) -> HotlineCall | None:
    ensure(actor, Permission.HOTLINE_LOG)
    call = session.get(HotlineCall, call_id)
    if call is None:
        return None
    audit.record(
        session, AuditAction.HOTLINE_VIEW, object_type="hotline_call", object_id=call.id,
        student_id=call.student_id, school_id=call.school_id, fields=["topics", "notes"],
    )  # fmt: skip
    return call
