"""Follow-ups: the one creation path, the tier cadence, completion, the overdue scan, the
morning digest and calendar-feed tokens.

Cadence (district policy, default DESIGN.md §3: yellow 30 days, orange 7, red 1, green none):
a tier change cancels the student's open cadence follow-up and schedules the next one by the
new cadence; completing any follow-up schedules the next cadence follow-up when none is open.
The owner of a cadence follow-up is the school's psych teacher -- the first psych-teacher
membership of the school (oldest grant) whose account is active; without one, the first school
leader; without either, no follow-up is scheduled and a warning is logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, case, func, select, update
from sqlalchemy.orm import Session

from ..alerts.services import raise_alert
from ..auth.models import User
from ..config import Settings
from ..core import audit, crypto
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, ensure
from ..core.errors import DomainError
from ..db import utcnow
from ..notify.services import post_notice, queue_email, translations
from ..orgs.models import School
from ..risk.events import TIER_CHANGED, TierChanged
from ..risk.policy import current_policy
from ..students.enrolment import ensure_not_sealed
from ..students.events import STUDENT_TRANSFERRED, StudentTransferred
from ..students.models import Student
from ..students.transfer import ensure_written_here
from . import leaving as leaving  # its STUDENT_LEFT subscription
from .bulk import on_tier_changed_many
from .models import (
    ACTIVE_STATES,
    CANCELLED,
    DONE,
    FOLLOWUP_STATES,
    NOTE_MAX,
    OPEN,
    OUTCOMES,
    OVERDUE,
    SOURCES,
    CalendarToken,
    FollowUp,
)
from .owners import default_owner_id

log = logging.getLogger("wellbeing.followups")

SCAN_BATCH = 1000


class FollowUpError(DomainError):
    """A refused follow-up operation (bad input); the message is safe to show. An illegal
    change of state raises :class:`~wellbeing.core.states.IllegalTransition`."""

    code = "followup_refused"


# --------------------------------------------------------------------------- creation


def schedule_followup(
    session: Session,
    actor: Principal | None,
    student: Student,
    *,
    due_at: dt.datetime,
    owner_id: uuid.UUID,
    source: str,
    source_id: uuid.UUID | None = None,
) -> FollowUp:
    """Create a follow-up (the only creation path). ``actor=None`` means a rule (system)."""
    if actor is not None:
        ensure(actor, Permission.FOLLOWUPS_MANAGE, student)
        ensure_not_sealed(student)
    if source not in SOURCES:
        raise FollowUpError(f"unknown follow-up source {source!r}")
    if due_at.tzinfo is None:
        raise FollowUpError("due time must be timezone-aware")
    followup = FollowUp(
        student_id=student.id,
        school_id=student.school_id,
        owner_id=owner_id,
        due_at=due_at,
        source=source,
        source_id=source_id,
        state=OPEN,
        created_by=actor.user_id if actor is not None else None,
    )
    session.add(followup)
    audit.record(
        session, AuditAction.FOLLOWUP_CREATE, object_type="followup", object_id=followup.id,
        student_id=student.id, school_id=student.school_id, fields=["due_at", "owner_id"],
        detail={"source": source, "owner": owner_id, "due": due_at},
    )  # fmt: skip
    return followup


def cadence_days(session: Session, student: Student, tier: int | None = None) -> int | None:
    level = student.tier if tier is None else tier
    district_id = session.scalar(select(School.district_id).where(School.id == student.school_id))
    return current_policy(session, district_id).followup_days.get(level)


def _active_cadence(session: Session, student_id: uuid.UUID) -> list[FollowUp]:
    return list(
        session.scalars(
            select(FollowUp).where(
                FollowUp.student_id == student_id,
                FollowUp.state.in_(ACTIVE_STATES),
                FollowUp.source == "cadence",
            )
        )
    )


def cancel_cadence(session: Session, student: Student, now: dt.datetime, reason: str) -> int:
    cancelled = 0
    for followup in _active_cadence(session, student.id):
        FOLLOWUP_STATES.move(followup, CANCELLED)
        followup.cancelled_at = now
        audit.record(
            session, AuditAction.FOLLOWUP_CANCEL, object_type="followup", object_id=followup.id,
            student_id=student.id, school_id=student.school_id, detail={"reason": reason},
        )  # fmt: skip
        cancelled += 1
    return cancelled


def ensure_cadence(session: Session, student: Student, now: dt.datetime) -> FollowUp | None:
    """Schedule the next cadence follow-up (now + cadence) unless one is open or the tier has none."""
    days = cadence_days(session, student)
    if not days or student.status != "active" or _active_cadence(session, student.id):
        return None
    owner = default_owner_id(session, student.school_id)
    if owner is None:
        log.warning(
            "school %s has no psych teacher or leader: no cadence follow-up", student.school_id
        )
        return None
    return schedule_followup(
        session,
        None,
        student,
        due_at=now + dt.timedelta(days=days),
        owner_id=owner,
        source="cadence",
    )


def on_tier_changed(session: Session, change: TierChanged) -> None:
    student = change.load_student(session)
    now = utcnow()
    cancel_cadence(session, student, now, "tier_changed")
    session.flush()
    ensure_cadence(session, student, now)


def on_student_transferred(session: Session, moved: StudentTransferred) -> None:
    """Open follow-ups move with the student; cadence ones go to the new school's psych teacher."""
    student = session.get_one(Student, moved.student_id)
    now = utcnow()
    session.execute(
        update(FollowUp)
        .where(
            FollowUp.student_id == student.id,
            FollowUp.state.in_(ACTIVE_STATES),
            FollowUp.source != "cadence",
        )
        .values(school_id=student.school_id)
    )
    cancel_cadence(session, student, now, "transferred")
    session.flush()
    ensure_cadence(session, student, now)


TIER_CHANGED.subscribe(on_tier_changed, many=on_tier_changed_many)
STUDENT_TRANSFERRED.subscribe(on_student_transferred)


# --------------------------------------------------------------------------- completion


def get_followup(
    session: Session, actor: Principal, followup_id: uuid.UUID
) -> tuple[FollowUp, Student]:
    """The follow-up and its student, if the actor may manage it (else Forbidden / LookupError)."""
    followup = session.get(FollowUp, followup_id)
    if followup is None:
        raise LookupError("no such follow-up")
    student = session.get(Student, followup.student_id)
    if student is None:
        raise LookupError("no such student")
    ensure(actor, Permission.FOLLOWUPS_MANAGE, student)
    return followup, student


def read_followup(
    session: Session, actor: Principal, followup_id: uuid.UUID
) -> tuple[FollowUp, Student, dict[uuid.UUID, str]]:
    """A follow-up as the record shows it -- for a completed one the decrypted note, the outcome,
    who completed it and when -- for those who may read the student's record; audited
    (``FOLLOWUP_VIEW`` naming the fields read). Also returns the display names of the people
    named on it (owner, completer, creator). LookupError when there is no such follow-up."""
    followup = session.get(FollowUp, followup_id)
    student = session.get(Student, followup.student_id) if followup is not None else None
    if followup is None or student is None:
        raise LookupError("no such follow-up")
    ensure(actor, Permission.RECORD_READ, student)
    ensure_written_here(actor, student, followup.school_id)  # the school the student left
    fields = ["due_at", "state", "owner_id"]
    if followup.state == DONE:
        fields += ["outcome", "note", "completed_by", "completed_at"]
    audit.record(
        session, AuditAction.FOLLOWUP_VIEW, object_type="followup", object_id=followup.id,
        student_id=student.id, school_id=student.school_id, fields=fields,
        detail={"students": [student.id], "state": followup.state},
    )  # fmt: skip
    ids = {followup.owner_id, followup.completed_by, followup.created_by} - {None}
    names = dict(
        session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).tuples().all()
    )
    return followup, student, names


def complete_followup(
    session: Session,
    actor: Principal,
    followup: FollowUp,
    *,
    outcome: str,
    note: str,
    reschedule_to: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> FollowUp | None:
    """Record the outcome with a short encrypted note. ``rescheduled`` needs ``reschedule_to``
    and creates the replacement follow-up; otherwise the next cadence follow-up is scheduled.
    Returns the follow-up created next (or None)."""
    now = now or utcnow()
    student = session.get(Student, followup.student_id)
    if student is None:
        raise FollowUpError(_l("the student of this follow-up no longer exists"))
    ensure(actor, Permission.FOLLOWUPS_MANAGE, student)
    ensure_not_sealed(student)
    if not FOLLOWUP_STATES.allowed(followup.state, DONE):
        raise FollowUpError(_l("this follow-up is already closed"))
    if outcome not in OUTCOMES:
        raise FollowUpError(_l("choose an outcome"))
    note = (note or "").strip()
    if not note or len(note) > NOTE_MAX:
        raise FollowUpError(_l("a note of 1 to %(max)s characters is required"), max=NOTE_MAX)
    if outcome == "rescheduled":
        if reschedule_to is None or reschedule_to <= now:
            raise FollowUpError(_l("a rescheduled follow-up needs a new time in the future"))
    elif reschedule_to is not None:
        raise FollowUpError(_l("a new time is only given when the follow-up is rescheduled"))
    FOLLOWUP_STATES.move(followup, DONE)
    followup.outcome, followup.note = outcome, note
    followup.completed_at, followup.completed_by = now, actor.user_id
    audit.record(
        session, AuditAction.FOLLOWUP_COMPLETE, object_type="followup", object_id=followup.id,
        student_id=student.id, school_id=student.school_id, fields=["note", "outcome"],
        detail={"outcome": outcome, "source": followup.source},
    )  # fmt: skip
    session.flush()
    if outcome == "rescheduled" and reschedule_to is not None:
        return schedule_followup(
            session, actor, student, due_at=reschedule_to, owner_id=followup.owner_id,
            source=followup.source, source_id=followup.source_id,
        )  # fmt: skip
    return ensure_cadence(session, student, now)


# --------------------------------------------------------------------------- overdue scan


def overdue_scan(session: Session, now: dt.datetime, *, batch: int = SCAN_BATCH) -> int:
    """Mark open follow-ups past their due time overdue and raise a ``followup_overdue`` alert
    for each (which then climbs the ladder). Reads only due rows through ix_followup_state_due."""
    marked = 0
    while True:
        stmt = (
            select(FollowUp, Student.tier)
            .join(Student, Student.id == FollowUp.student_id)
            .where(FollowUp.state == OPEN, FollowUp.due_at <= now)
            .order_by(FollowUp.due_at)
            .limit(batch)
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=FollowUp)
        rows = session.execute(stmt).all()
        for followup, tier in rows:
            FOLLOWUP_STATES.move(followup, OVERDUE)
            followup.overdue_at = now
            raise_alert(
                session, kind="followup_overdue", school_id=followup.school_id,
                student_id=followup.student_id, source_id=followup.id, tier=tier, now=now,
            )  # fmt: skip
        marked += len(rows)
        session.flush()
        if len(rows) < batch:
            return marked


# --------------------------------------------------------------------------- morning digest


def local_day_bounds(now: dt.datetime, tz: Any) -> tuple[dt.datetime, dt.datetime]:
    """Start and end (UTC) of ``now``'s calendar day in ``tz``."""
    day = now.astimezone(tz).date()
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def digest_counts(session: Session, now: dt.datetime, tz: Any) -> dict[uuid.UUID, tuple[int, int]]:
    """Per owner: (due later today, overdue) from active rows due before the end of today."""
    _, end = local_day_bounds(now, tz)
    is_overdue = (FollowUp.state == OVERDUE) | (FollowUp.due_at < now)
    rows = session.execute(
        select(
            FollowUp.owner_id,
            func.sum(case((is_overdue, 0), else_=1)),
            func.sum(case((is_overdue, 1), else_=0)),
        )
        .where(FollowUp.state.in_(ACTIVE_STATES), FollowUp.due_at < end)
        .group_by(FollowUp.owner_id)
    ).all()
    return {owner: (int(today or 0), int(overdue or 0)) for owner, today, overdue in rows}


def digest_text(locale: str, today: int, overdue: int, url: str) -> tuple[str, str]:
    """Subject and body of the digest e-mail: counts and a link, no names, no details."""
    t = translations(locale)
    _, ngettext = t.gettext, t.ngettext
    subject = _("Your follow-ups today")
    lines = [
        ngettext("%(num)d follow-up is due today.", "%(num)d follow-ups are due today.", today)
        % {"num": today},
        ngettext("%(num)d follow-up is overdue.", "%(num)d follow-ups are overdue.", overdue)
        % {"num": overdue},
        "",
        _("Open your agenda: %(url)s") % {"url": url},
    ]
    return subject, "\n".join(lines) + "\n"


def morning_digest(session: Session, settings: Settings, now: dt.datetime) -> int:
    """One in-app notice and one e-mail (through the outbox) per user with follow-ups due today
    or overdue, in the user's language, counts only. Idempotent per user and local day."""
    day = now.astimezone(settings.tz).date().isoformat()
    url = f"{settings.base_url.rstrip('/')}/agenda"
    notified = 0
    for owner_id, (today, overdue) in digest_counts(session, now, settings.tz).items():
        user = session.get(User, owner_id)
        if user is None or not user.active or (today == 0 and overdue == 0):
            continue
        notice = post_notice(
            session, owner_id, "followup_digest", day, {"today": today, "overdue": overdue}
        )
        if notice is None:
            continue  # already sent for this day
        if user.email:
            subject, body = digest_text(user.locale, today, overdue, url)
            queue_email(session, user=user, subject=subject, body=body, kind="digest")
        notified += 1
    return notified


# --------------------------------------------------------------------------- calendar feed tokens


def issue_calendar_token(session: Session, user_id: uuid.UUID) -> str:
    """Revoke the user's feed token (if any) and return a new one; only its digest is stored."""
    now = utcnow()
    session.execute(
        update(CalendarToken)
        .where(CalendarToken.user_id == user_id, CalendarToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    token = crypto.random_token(24)
    session.add(CalendarToken(user_id=user_id, token_digest=crypto.token_digest(token)))
    audit.record(session, AuditAction.CALENDAR_TOKEN, object_type="calendar_token", object_id=user_id,
                 detail={"change": "issued"})  # fmt: skip
    return token


def revoke_calendar_token(session: Session, user_id: uuid.UUID) -> int:
    result = cast(  # an UPDATE's result is a CursorResult (``rowcount``); the stubs say Result
        "CursorResult[Any]",
        session.execute(
            update(CalendarToken)
            .where(CalendarToken.user_id == user_id, CalendarToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        ),
    )
    count = result.rowcount or 0
    audit.record(session, AuditAction.CALENDAR_TOKEN, object_type="calendar_token", object_id=user_id,
                 detail={"change": "revoked", "count": count})  # fmt: skip
    return count


def has_calendar_token(session: Session, user_id: uuid.UUID) -> bool:
    return session.scalar(
        select(CalendarToken.id).where(CalendarToken.user_id == user_id, CalendarToken.revoked_at.is_(None)).limit(1)
    ) is not None  # fmt: skip


def calendar_user(session: Session, token: str) -> User | None:
    """The active user owning a live feed token, or None (unknown, revoked, disabled)."""
    if not token or len(token) > 100:
        return None
    row = session.scalar(
        select(CalendarToken).where(
            CalendarToken.token_digest == crypto.token_digest(token),
            CalendarToken.revoked_at.is_(None),
        )
    )
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    row.last_used_at = utcnow()
    return user
