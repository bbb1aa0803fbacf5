"""Reporting concerns, working the psych teacher's queue, and logging hotline calls.

Tier rule of a concern (DESIGN.md §3; a rule raises at once, provisionally, and never lowers):

- ``immediate_danger`` → red (3) and an ``urgent_concern`` alert;
- ``soon`` → at least yellow (1) ("a teacher's concern" is the yellow trigger);
- category ``self_harm_signs`` → at least orange (2) ("self-harm signs" is an orange trigger);
- the 3rd concern on the same student within 30 days → at least orange ("repeated concerns");
- a ``routine`` concern alone changes nothing: it waits in the psych teacher's queue, who
  decides (a person confirms or changes tiers with a written reason).

Status of a concern: new → seen → acted (new → acted is allowed: acting implies seeing).
Reporters see only their own reports, their status and who acted; never the case.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from ..alerts.models import Alert
from ..alerts.services import raise_alert
from ..auth.models import User
from ..auth.names import user_names as user_names
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, Role, ensure
from ..crisis.notices import AlertNotice, alert_notice, people_for, report_message
from ..db import utcnow
from ..orgs.models import School
from ..orgs.services import default_district
from ..risk.services import apply_tier
from ..students.models import Student
from .models import (
    CALLER_TYPES,
    CATEGORIES,
    HOTLINE_TOPICS,
    RISK_LEVELS,
    URGENCIES,
    Concern,
    HotlineCall,
)

REPEATED_CONCERNS = 3  # this many concerns on a student within REPEAT_WINDOW → orange
REPEAT_WINDOW = dt.timedelta(days=30)
MAX_TEXT = 4000


class ConcernError(ValueError):
    """Refused input or an illegal status change; the message is safe to show."""


# --------------------------------------------------------------------------- pure rules


def tier_for(urgency: str, category: str, recent_concerns: int) -> int:
    """The tier a concern raises its student to (0 = no raise). ``recent_concerns`` counts
    the concerns on the student in the last 30 days including this one."""
    if urgency not in URGENCIES:
        raise ConcernError(_l("Unknown urgency"))
    if category not in CATEGORIES:
        raise ConcernError(_l("Unknown category"))
    if urgency == "immediate_danger":
        return 3
    target = 1 if urgency == "soon" else 0
    if category == "self_harm_signs" or recent_concerns >= REPEATED_CONCERNS:
        target = max(target, 2)
    return target


_TRANSITIONS = {("new", "seen"): "seen", ("new", "acted"): "acted", ("seen", "acted"): "acted"}


def next_status(current: str, action: str) -> str:
    """``action`` is "seen" or "acted"; anything else from ``current`` is refused."""
    try:
        return _TRANSITIONS[(current, action)]
    except KeyError:
        raise ConcernError(
            _l(
                "A concern that is %(current)s cannot be marked %(action)s",
                current=current,
                action=action,
            )
        ) from None


def urgency_for_risk(risk_level: int) -> str:
    return {3: "immediate_danger", 2: "soon"}.get(risk_level, "routine")


_TOPIC_CATEGORY = {
    "self_harm": "self_harm_signs", "mood": "mood", "anxiety": "mood", "bullying": "bullying",
    "family": "family", "academic": "academic", "relationships": "behaviour",
}  # fmt: skip


def category_for_topics(topics: list[str]) -> str:
    """The concern category of a hotline call: self-harm first, then the first mapped topic."""
    if "self_harm" in topics:
        return "self_harm_signs"
    for topic in topics:
        if topic in _TOPIC_CATEGORY:
            return _TOPIC_CATEGORY[topic]
    return "other"


# --------------------------------------------------------------------------- lookups


def reportable_students(session: Session, actor: Principal) -> list[Student]:
    """The students of the actor's own classes (a class teacher's pick list), by name."""
    class_ids = actor.class_ids()
    if not class_ids:
        return []
    rows = session.scalars(
        select(Student).where(Student.class_id.in_(class_ids), Student.status == "active")
    ).all()
    return sorted(rows, key=lambda s: (s.grade, s.name or ""))


def find_student_by_number(session: Session, school_id: uuid.UUID, number: str) -> Student | None:
    """Equality search through the blind index (school-scoped), never by decrypting."""
    number = (number or "").strip()
    if not number:
        return None
    digest = Student.student_number.blind_index(school_id, number)
    return session.scalar(
        select(Student).where(Student.school_id == school_id, Student.student_number_bidx == digest)
    )


def reporting_schools(session: Session, actor: Principal) -> list[School]:
    """Schools in which the actor may look a student up by number."""
    stmt = select(School).where(School.active.is_(True)).order_by(School.code)
    if Role.COUNSELLOR not in actor.roles:
        stmt = stmt.where(School.id.in_(actor.school_ids() or {uuid.uuid4()}))
    return list(session.scalars(stmt))


# --------------------------------------------------------------------------- concerns


@dataclass(frozen=True)
class ConcernReport:
    """What reporting a concern did: the concern, the alert it raised or joined (whom it
    reached, what waits), and who sees it in the school's concern queue."""

    concern: Concern
    alert: AlertNotice | None
    queue: dict[str, int]  # role -> active people who see it in their concern queue

    def message(self) -> str:
        """The reporter's confirmation, built from what was done."""
        return report_message(self.alert, self.queue)


def report_concern(
    session: Session, actor: Principal, student: Student, **kwargs: Any
) -> ConcernReport:
    """Create a concern (:func:`create_concern`, same arguments) and say what that did."""
    started = utcnow()
    concern, alert = _create_concern(session, actor, student, **kwargs)
    queue = people_for(
        session, student.school_id, school_roles=(Role.PSYCH_TEACHER, Role.SCHOOL_LEADER),
        district=bool(student.district_involved),
    )  # fmt: skip
    notice = alert_notice(session, alert, since=started) if alert is not None else None
    return ConcernReport(concern, notice, queue)


def create_concern(session: Session, actor: Principal, student: Student, **kwargs: Any) -> Concern:
    """The one creation path (the form and the hotline both come here)."""
    return _create_concern(session, actor, student, **kwargs)[0]


def _create_concern(
    session: Session,
    actor: Principal,
    student: Student,
    *,
    category: str,
    urgency: str,
    text: str,
    source: str = "staff",
    hotline_call_id: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> tuple[Concern, Alert | None]:
    ensure(actor, Permission.CONCERN_REPORT, student)
    now = now or utcnow()
    text = (text or "").strip()
    if category not in CATEGORIES:
        raise ConcernError(_l("Unknown category"))
    if urgency not in URGENCIES:
        raise ConcernError(_l("Unknown urgency"))
    if not text:
        raise ConcernError(_l("Describe what was seen"))
    if len(text) > MAX_TEXT:
        raise ConcernError(_l("The description is longer than %(n)s characters", n=MAX_TEXT))
    if student.status != "active":
        raise ConcernError(_l("This student is no longer at the school"))
    concern = Concern(
        school_id=student.school_id, student_id=student.id, reporter_id=actor.user_id,
        source=source, hotline_call_id=hotline_call_id, urgency=urgency, status="new",
        created_at=now, category=category, text=text,
    )  # fmt: skip
    session.add(concern)
    session.flush()
    recent = session.scalar(
        select(func.count()).select_from(Concern).where(
            Concern.student_id == student.id, Concern.created_at > now - REPEAT_WINDOW
        )
    ) or 0  # fmt: skip
    target = tier_for(urgency, category, recent)
    if target > (student.tier or 0):
        apply_tier(
            session, None, student, target, source="concern", reason=f"concern_{urgency}",
            provisional=True, source_id=concern.id,
        )  # fmt: skip
        concern.raised_to = target
    alert = None
    if urgency == "immediate_danger":
        alert = raise_alert(
            session, kind="urgent_concern", school_id=student.school_id, student_id=student.id,
            source_id=concern.id, tier=3,
        )  # fmt: skip
    audit.record(
        session, AuditAction.CONCERN_CREATE, object_type="concern", object_id=concern.id,
        student_id=student.id, school_id=student.school_id, fields=["category", "text", "urgency"],
        detail={"urgency": urgency, "source": source, "raised_to": concern.raised_to},
    )  # fmt: skip
    return concern, alert


def own_concerns(
    session: Session, actor: Principal, limit: int = 100
) -> list[tuple[Concern, Student, str | None]]:
    """The actor's own reports with the student and the display name of who acted."""
    ensure(actor, Permission.CONCERN_OWN)
    rows = session.execute(
        select(Concern, Student, User.display_name)
        .join(Student, Student.id == Concern.student_id)
        .outerjoin(User, User.id == Concern.acted_by_id)
        .where(Concern.reporter_id == actor.user_id)
        .order_by(Concern.created_at.desc())
        .limit(limit)
    ).all()
    result = [(c, s, who) for c, s, who in rows]
    audit.record(
        session, AuditAction.CONCERN_VIEW, object_type="concern_list", object_id="own",
        fields=["status"], detail={"students": sorted({str(s.id) for _, s, _ in result}), "view": "own"},
    )  # fmt: skip
    return result


def _queue_filter(actor: Principal):  # type: ignore[no-untyped-def]
    school_ids = actor.school_ids(Role.PSYCH_TEACHER, Role.SCHOOL_LEADER)
    clauses = []
    if school_ids:
        clauses.append(Concern.school_id.in_(school_ids))
    if Role.COUNSELLOR in actor.roles:
        clauses.append(Student.district_involved.is_(True))
    if actor.break_glass_students:
        clauses.append(Concern.student_id.in_(actor.break_glass_students))
    return or_(*clauses) if clauses else Concern.id.is_(None)


def concern_queue(
    session: Session,
    actor: Principal,
    *,
    status: str | None = "open",
    limit: int = 50,
    offset: int = 0,
) -> list[tuple[Concern, Student]]:
    """Concerns the actor may work on: their school's (psych teacher, school leader), or of
    students escalated to the district (counsellors). Open ones first, most urgent first."""
    ensure(actor, Permission.RECORD_READ)
    stmt = (
        select(Concern, Student)
        .join(Student, Student.id == Concern.student_id)
        .where(_queue_filter(actor))
    )
    if status == "open":
        stmt = stmt.where(Concern.status != "acted")
    elif status:
        stmt = stmt.where(Concern.status == status)
    urgency_rank = case({"immediate_danger": 2, "soon": 1}, value=Concern.urgency, else_=0)
    stmt = stmt.order_by(urgency_rank.desc(), Concern.created_at.desc()).limit(limit).offset(offset)
    rows = [(c, s) for c, s in session.execute(stmt).all()]
    audit.record(
        session, AuditAction.CONCERN_VIEW, object_type="concern_list", object_id="queue",
        fields=["category", "urgency", "status"],
        detail={"students": sorted({str(s.id) for _, s in rows}), "view": "queue"},
    )  # fmt: skip
    return rows


def get_concern(
    session: Session, actor: Principal, concern_id: uuid.UUID
) -> tuple[Concern, Student] | None:
    concern = session.get(Concern, concern_id)
    if concern is None:
        return None
    student = session.get(Student, concern.student_id)
    ensure(actor, Permission.RECORD_READ, student)
    audit.record(
        session, AuditAction.CONCERN_VIEW, object_type="concern", object_id=concern.id,
        student_id=student.id, school_id=student.school_id,  # type: ignore[union-attr]
        fields=["category", "text", "urgency", "status"],
    )  # fmt: skip
    return concern, student  # type: ignore[return-value]


def mark(
    session: Session, actor: Principal, concern: Concern, action: str, *, note: str | None = None,
    now: dt.datetime | None = None,
) -> Concern:  # fmt: skip
    """Mark a concern seen or acted (psych teacher / counsellor with write access)."""
    student = session.get(Student, concern.student_id)
    ensure(actor, Permission.RECORD_WRITE, student)
    new_status = next_status(concern.status, action)
    now = now or utcnow()
    if concern.seen_at is None:
        concern.seen_at, concern.seen_by_id = now, actor.user_id
    if new_status == "acted":
        concern.acted_at, concern.acted_by_id = now, actor.user_id
        note = (note or "").strip()
        if len(note) > MAX_TEXT:
            raise ConcernError(_l("The note is longer than %(n)s characters", n=MAX_TEXT))
        if note:
            concern.action_note = note
    concern.status = new_status
    audit.record(
        session, AuditAction.CONCERN_UPDATE, object_type="concern", object_id=concern.id,
        student_id=concern.student_id, school_id=concern.school_id,
        fields=["status"] + (["action_note"] if note else []), detail={"status": new_status},
    )  # fmt: skip
    session.flush()
    return concern


# --------------------------------------------------------------------------- hotline


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
        raise ConcernError(_l("The notes are longer than %(n)s characters", n=MAX_TEXT))
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
