"""Kiosk sessions: a device handed to students, who answer one after the other.

The kiosk knows who answers only by the queue's order, so:

* A student already screened in the campaign is refused when the teacher opens the kiosk,
  with their student numbers named to the teacher -- never halfway through the student's
  questionnaire.
* Answers refused at submit anyway (a response was recorded for the student meanwhile, the
  campaign closed while they answered, ...) are kept encrypted as :class:`HeldAnswers` for the
  psychology teacher's review, and the queue goes on to the next student.
* A session closes when its queue is done, or when it times out (``kiosk_timeout_minutes``):
  checked when the kiosk is used and by the scheduler's ``screening.close_kiosks`` job.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...config import Settings
from ...core import audit, crypto
from ...core.audit import AuditAction
from ...core.authz import Permission, Principal, ensure
from ...db import utcnow
from ...orgs.models import School
from ...students.models import Student
from ..clock import local_today
from ..errors import ScreeningError
from ..models import (
    KIOSK_STATES,
    Campaign,
    CampaignPhase,
    CampaignSchool,
    HeldAnswers,
    KioskSession,
    KioskState,
    Response,
)
from ..services import find_students, record_answers

DEFAULT_TIMEOUT_MINUTES = Settings.kiosk_timeout_minutes


def timeout_minutes() -> int:
    """The configured kiosk timeout (``WELLBEING_KIOSK_TIMEOUT_MINUTES``, default 90)."""
    if has_app_context() and "wellbeing.settings" in current_app.extensions:
        return int(current_app.extensions["wellbeing.settings"].kiosk_timeout_minutes)
    return DEFAULT_TIMEOUT_MINUTES


def already_screened(
    session: Session, campaign: Campaign, students: Sequence[Student]
) -> list[Student]:
    """The students with a response (any instrument, voided or not) in ``campaign``."""
    ids = [s.id for s in students]
    if not ids:
        return []
    done = set(
        session.scalars(
            select(Response.student_id).where(
                Response.campaign_id == campaign.id, Response.student_id.in_(ids)
            )
        )
    )
    return [s for s in students if s.id in done]


def open_kiosk(
    session: Session,
    actor: Principal,
    campaign: Campaign,
    students: Sequence[Student],
    now: dt.datetime | None = None,
    minutes: int | None = None,
) -> tuple[KioskSession, str]:
    """A questionnaire-only session for ``students`` (one school); returns the row and token."""
    now = now or utcnow()
    phase = campaign.phase(local_today(now))
    if phase == CampaignPhase.UPCOMING:
        raise ScreeningError(
            _l("The campaign opens on %(day)s."), day=campaign.opens_on.isoformat()
        )
    if phase != CampaignPhase.OPEN:
        raise ScreeningError(_l("The campaign is closed."))
    if not students or len({s.school_id for s in students}) != 1:
        raise ScreeningError(_l("Choose students of one school."))
    linked = set(campaign_school_ids_of(session, campaign))
    outside = []
    for student in students:
        ensure(actor, Permission.SCREENING_KIOSK, student)
        if student.school_id not in linked or student.grade not in campaign.grades:
            outside.append(student)
    if outside:
        raise ScreeningError(
            _l(
                "Not part of this campaign (school or grade): %(numbers)s. Remove them from the list."
            ),
            numbers=", ".join(s.student_number for s in outside),
        )
    screened = already_screened(session, campaign, students)
    if screened:
        raise ScreeningError(
            _l("Already screened in this campaign: %(numbers)s. Remove them from the list; "
               "their answers are on record."),
            numbers=", ".join(s.student_number for s in screened),
        )  # fmt: skip
    minutes = minutes or timeout_minutes()
    token = crypto.random_token()
    kiosk = KioskSession(
        token_digest=crypto.token_digest(token), campaign_id=campaign.id, school_id=students[0].school_id,
        student_ids=[str(s.id) for s in students], done_ids=[], held_ids=[], opened_by=actor.user_id,
        expires_at=now + dt.timedelta(minutes=minutes), state=KioskState.OPEN,
    )  # fmt: skip
    session.add(kiosk)
    session.flush()
    audit.record(
        session, AuditAction.SCREENING_CAMPAIGN, object_type="kiosk", object_id=kiosk.id,
        school_id=kiosk.school_id, detail={"op": "kiosk_open", "students": [s.id for s in students],
                                           "minutes": minutes},
    )  # fmt: skip
    return kiosk, token


def open_kiosk_for_numbers(
    session: Session, actor: Principal, campaign: Campaign, school: School, numbers: Sequence[str]
) -> tuple[KioskSession, str]:
    """:func:`open_kiosk` for the student numbers a teacher typed; numbers that are not the
    school's are named in the refusal."""
    found, missing = find_students(session, school.id, numbers)
    if missing:
        raise ScreeningError(
            _l("Not students of %(school)s: %(numbers)s. Check the numbers and try again."),
            school=school.name, numbers=", ".join(missing),
        )  # fmt: skip
    return open_kiosk(session, actor, campaign, found)


def campaign_school_ids_of(session: Session, campaign: Campaign) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(CampaignSchool.school_id).where(CampaignSchool.campaign_id == campaign.id)
        )
    )


def _close(session: Session, kiosk: KioskSession, now: dt.datetime, to: KioskState) -> None:
    KIOSK_STATES.move(kiosk, to)
    kiosk.closed_at = now
    why = "timeout" if to == KioskState.TIMED_OUT else to.value  # the audit detail's code
    audit.record(
        session, AuditAction.SCREENING_CAMPAIGN, object_type="kiosk", object_id=kiosk.id,
        school_id=kiosk.school_id, detail={"op": "kiosk_close", "why": why, "answered": len(kiosk.done_ids),
                                           "held": len(kiosk.held_ids or []), "queued": len(kiosk.student_ids)},
    )  # fmt: skip


def load_kiosk(session: Session, token: str, now: dt.datetime | None = None) -> KioskSession | None:
    """The open kiosk of ``token``, or None (unknown, timed out, finished). A timed-out kiosk
    is closed here, at its first use after the deadline."""
    now = now or utcnow()
    kiosk = session.scalar(
        select(KioskSession).where(KioskSession.token_digest == crypto.token_digest(token))
    )
    if kiosk is None or kiosk.state != KioskState.OPEN:
        return None
    if kiosk.expires_at <= now:
        _close(session, kiosk, now, KioskState.TIMED_OUT)
        return None
    return kiosk


def close_expired(session: Session, now: dt.datetime | None = None) -> int:
    """Close every kiosk past its deadline (the scheduler's job); returns how many."""
    now = now or utcnow()
    rows = list(
        session.scalars(
            select(KioskSession).where(
                KioskSession.state == KioskState.OPEN, KioskSession.expires_at <= now
            )
        )
    )
    for kiosk in rows:
        _close(session, kiosk, now, KioskState.TIMED_OUT)
    return len(rows)


def kiosk_campaign(session: Session, kiosk: KioskSession) -> Campaign:
    """The campaign a kiosk session answers (the foreign key guarantees it exists)."""
    campaign = session.get(Campaign, kiosk.campaign_id)
    if campaign is None:  # pragma: no cover - a foreign key
        raise LookupError(kiosk.campaign_id)
    return campaign


def kiosk_next_student(session: Session, kiosk: KioskSession) -> Student | None:
    pending = [s for s in kiosk.student_ids if s not in kiosk.done_ids]
    return session.get(Student, uuid.UUID(pending[0])) if pending else None


def kiosk_submit(
    session: Session,
    kiosk: KioskSession,
    answers: dict[str, dict[str, int | None]],
    now: dt.datetime | None = None,
) -> tuple[bool, bool]:
    """Record the current student's answers and move the queue on.

    Returns ``(finished, held)``: ``held`` when the answers could not be recorded as a
    response and were kept for the psychology teacher's review instead (never discarded)."""
    now = now or utcnow()
    student = kiosk_next_student(session, kiosk)
    campaign = session.get(Campaign, kiosk.campaign_id)
    if student is None or campaign is None:
        raise ScreeningError(_l("This kiosk session has ended."))
    given = {
        c: a
        for c, a in answers.items()
        if c in campaign.instruments and any(v is not None for v in a.values())
    }
    if not given:
        raise ScreeningError(_l("No answers were given."))
    held = False
    try:
        record_answers(session, None, campaign, student, given, source="kiosk",
                       entered_by=kiosk.opened_by, now=now)  # fmt: skip
    except ScreeningError as exc:  # an IntakeError too; the reason is kept in English
        hold_answers(session, campaign, student, given, reason=exc.english, kiosk=kiosk)
        kiosk.held_ids = [*(kiosk.held_ids or []), str(student.id)]
        held = True
    kiosk.done_ids = [*kiosk.done_ids, str(student.id)]
    finished = len(kiosk.done_ids) >= len(kiosk.student_ids)
    if finished:
        _close(session, kiosk, now, KioskState.DONE)
    return finished, held


def _reason_code(reason: str) -> str:
    """A code for the audit entry (its detail holds codes, not free text)."""
    if "already recorded" in reason or "already used" in reason:
        return "already_recorded"
    if "not open" in reason:
        return "campaign_closed"
    return "refused"


def hold_answers(
    session: Session,
    campaign: Campaign,
    student: Student,
    answers: dict[str, dict[str, Any]],
    *,
    reason: str,
    kiosk: KioskSession | None = None,
) -> HeldAnswers:
    """Keep answers that could not be recorded, for the psychology teacher's review."""
    row = HeldAnswers(
        campaign_id=campaign.id, student_id=student.id, school_id=student.school_id,
        kiosk_id=kiosk.id if kiosk else None, source="kiosk" if kiosk else "form", reason=reason[:300],
    )  # fmt: skip
    row.data = {"answers": answers}
    session.add(row)
    session.flush()
    audit.record(
        session, AuditAction.SCREENING_RESPONSE, object_type="screening_held", object_id=row.id,
        student_id=student.id, school_id=student.school_id, fields=["screening.answers"],
        detail={"op": "held", "instruments": sorted(answers), "reason": _reason_code(reason)},
    )  # fmt: skip
    return row


__all__ = [
    "already_screened",
    "close_expired",
    "hold_answers",
    "kiosk_campaign",
    "kiosk_next_student",
    "kiosk_submit",
    "load_kiosk",
    "open_kiosk",
]
