"""Reporting concerns, working the psych teacher's queue, and logging hotline calls.

Tier rule of a concern (DESIGN.md §3; a rule raises at once, provisionally, and never lowers):

- ``immediate_danger`` → red (3) and an ``urgent_concern`` alert;
- ``soon`` → at least yellow (1) ("a teacher's concern" is the yellow trigger);
- category ``self_harm_signs`` → at least orange (2) ("self-harm signs" is an orange trigger);
- the 3rd concern on the same student within 30 days → at least orange ("repeated concerns");
- a ``routine`` concern alone changes nothing: it waits in the psych teacher's queue, who
  decides (a person confirms or changes tiers with a written reason).

State of a concern: new → seen → acted (new → acted is allowed: acting implies seeing), by
``models.CONCERN_STATES``. Reporters see only their own reports, their state and who acted;
never the case. An urgent concern stores the alert it raised or joined (``alert_id``): the
alert page, the crisis page and this concern show each other, and acknowledging the alert
marks the concern seen (:func:`seen_by_alert`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..alerts import links as alert_links
from ..alerts.links import LinkedItem, When
from ..alerts.models import Alert
from ..alerts.services import raise_alert
from ..auth.models import User
from ..auth.names import user_names as user_names
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, Role, can, ensure
from ..core.errors import DomainError
from ..core.rawsql import chunks
from ..core.states import IllegalTransition, state_label
from ..crisis.notices import AlertNotice, alert_notice, people_for, report_message
from ..db import utcnow
from ..orgs.models import School
from ..risk.services import apply_tier
from ..students.chip import chip_fields
from ..students.enrolment import ensure_not_sealed
from ..students.models import Student
from ..students.transfer import ensure_written_here
from .models import (
    CATEGORIES,
    CONCERN_STATES,
    OPEN,
    URGENCIES,
    Concern,
    ConcernState,
)

REPEATED_CONCERNS = 3  # this many concerns on a student within REPEAT_WINDOW → orange
REPEAT_WINDOW = dt.timedelta(days=30)
MAX_TEXT = 4000


class ConcernError(DomainError):
    """Refused input; the message is safe to show."""

    code = "concern_refused"


class IllegalConcernMove(IllegalTransition, ConcernError):
    """A move ``CONCERN_STATES`` does not allow (both an IllegalTransition and a ConcernError)."""


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


def next_state(current: str, action: str) -> ConcernState:
    """``action`` names the state to move to ("seen" or "acted"); a move the transitions
    table does not allow from ``current`` is refused."""
    target = next((s for s in ConcernState if s == action), None)
    if target is None or not CONCERN_STATES.allowed(current, target):
        raise IllegalConcernMove(
            _l("A concern that is %(current)s cannot be marked %(action)s"),
            current=state_label(ConcernState(current)),
            action=state_label(target) if target is not None else action,
        )
    return target


next_status = next_state  # the name the tests of the state machine use


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
    ensure_not_sealed(student)
    now = now or utcnow()
    text = (text or "").strip()
    if category not in CATEGORIES:
        raise ConcernError(_l("Unknown category"))
    if urgency not in URGENCIES:
        raise ConcernError(_l("Unknown urgency"))
    if not text:
        raise ConcernError(_l("Describe what was seen"))
    if len(text) > MAX_TEXT:
        raise ConcernError(_l("The description is longer than %(n)s characters"), n=MAX_TEXT)
    if student.status != "active":
        raise ConcernError(_l("This student is no longer at the school"))
    concern = Concern(
        school_id=student.school_id, student_id=student.id, reporter_id=actor.user_id,
        source=source, hotline_call_id=hotline_call_id, urgency=urgency, state=ConcernState.NEW,
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
        concern.alert_id = alert.id
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
        fields=["status", *chip_fields(actor, (s for _, s, _ in result))],
        detail={"students": sorted({str(s.id) for _, s, _ in result}), "view": "own"},
    )  # fmt: skip
    return result


def _queue_filter(actor: Principal) -> ColumnElement[bool]:
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
    status: str | None = OPEN,
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
    if status == OPEN:
        stmt = stmt.where(Concern.state != ConcernState.ACTED)
    elif status:
        stmt = stmt.where(Concern.state == status)
    urgency_rank = case({"immediate_danger": 2, "soon": 1}, value=Concern.urgency, else_=0)
    stmt = stmt.order_by(urgency_rank.desc(), Concern.created_at.desc()).limit(limit).offset(offset)
    rows = [(c, s) for c, s in session.execute(stmt).all()]
    audit.record(
        session, AuditAction.CONCERN_VIEW, object_type="concern_list", object_id="queue",
        fields=["category", "urgency", "status", *chip_fields(actor, (s for _, s in rows), tier=False)],
        detail={"students": sorted({str(s.id) for _, s in rows}), "view": "queue"},
    )  # fmt: skip
    return rows


def get_concern(
    session: Session, actor: Principal, concern_id: uuid.UUID
) -> tuple[Concern, Student] | None:
    concern = session.get(Concern, concern_id)
    if concern is None:
        return None
    student = session.get_one(Student, concern.student_id)
    ensure(actor, Permission.RECORD_READ, student)
    ensure_written_here(actor, student, concern.school_id)  # the school the student left
    audit.record(
        session, AuditAction.CONCERN_VIEW, object_type="concern", object_id=concern.id,
        student_id=student.id, school_id=student.school_id,
        fields=["category", "text", "urgency", "status"],
    )  # fmt: skip
    return concern, student


def mark(
    session: Session, actor: Principal, concern: Concern, action: str, *, note: str | None = None,
    now: dt.datetime | None = None,
) -> Concern:  # fmt: skip
    """Mark a concern seen or acted (psych teacher / counsellor with write access)."""
    student = session.get(Student, concern.student_id)
    ensure(actor, Permission.RECORD_WRITE, student)
    ensure_not_sealed(student)
    new_status = next_state(concern.state, action)
    now = now or utcnow()
    if new_status == ConcernState.ACTED:
        concern.acted_at, concern.acted_by_id = now, actor.user_id
        note = (note or "").strip()
        if len(note) > MAX_TEXT:
            raise ConcernError(_l("The note is longer than %(n)s characters"), n=MAX_TEXT)
        if note:
            concern.action_note = note
    CONCERN_STATES.move(concern, new_status)
    if concern.seen_at is None:
        concern.seen_at, concern.seen_by_id = now, actor.user_id
    audit.record(
        session, AuditAction.CONCERN_UPDATE, object_type="concern", object_id=concern.id,
        student_id=concern.student_id, school_id=concern.school_id,
        fields=["status"] + (["action_note"] if note else []), detail={"status": new_status},
    )  # fmt: skip
    session.flush()
    return concern


# --------------------------------------------------------------------------- one event


def concern_item(concern: Concern) -> LinkedItem:
    return LinkedItem(
        "concern", concern.id, _l("Concern reported %(when)s", when=When(concern.created_at)),
        state_label(ConcernState(concern.state)), "concerns.detail", {"concern_id": concern.id},
    )  # fmt: skip


def _of_alert(session: Session, alert: Alert) -> list[tuple[Concern, Student]]:
    return _of_alerts(session, [alert]).get(alert.id, [])


def _of_alerts(
    session: Session, alerts: Sequence[Alert]
) -> dict[uuid.UUID, list[tuple[Concern, Student]]]:
    """The concerns of each alert (by alert id, oldest first) with their students."""
    found: dict[uuid.UUID, list[tuple[Concern, Student]]] = {}
    for part in chunks(sorted({a.id for a in alerts})):
        rows = session.execute(
            select(Concern, Student).join(Student, Student.id == Concern.student_id)
            .where(Concern.alert_id.in_(part)).order_by(Concern.created_at)
        ).all()  # fmt: skip
        for concern, student in rows:
            if concern.alert_id is not None:
                found.setdefault(concern.alert_id, []).append((concern, student))
    return found


def concern_links(
    session: Session, principal: Principal, alerts: Sequence[Alert]
) -> dict[uuid.UUID, list[LinkedItem]]:
    """The concerns that raised (or joined) each alert, for people who may read the case."""
    return {
        alert_id: [concern_item(c) for c, s in rows if can(principal, Permission.RECORD_READ, s)]
        for alert_id, rows in _of_alerts(session, alerts).items()
    }


def seen_by_alert(
    session: Session, actor: Principal, alert: Alert, now: dt.datetime
) -> list[object]:
    """Acknowledging the alert marks its new concerns seen (audited as marking by hand), for
    an actor who may work on the case."""
    done: list[object] = []
    for concern, student in _of_alert(session, alert):
        if concern.state != ConcernState.NEW or not can(actor, Permission.RECORD_WRITE, student):
            continue
        mark(session, actor, concern, ConcernState.SEEN, now=now)
        done.append(
            _l("The concern reported %(when)s was marked as seen.", when=When(concern.created_at))
        )
    return done


alert_links.register(links=concern_links, on_acknowledge=seen_by_alert)
