"""The minimum dataset: exactly what a partner may see of a referral, and nothing else.

:func:`dataset` builds it from the referral's choices (``Referral.shared``): the student's
name, sex, age, school and grade; one guardian's name and phone; the reason written for the
partner; the chosen screening results (instrument, date, scale scores and bands, the total
band, and the item answers only when the sender chose to share them); the student's current
tier; the urgency. Never notes, the plan, concerns, the internal reason, other screenings or
the record. Every partner page, print, export and API response is built from this one dict
(the portal's tests compare each against it), and the sender's preview before sending shows
the same dict.

:func:`preview` (the sender, before sending) and :func:`partner_view` (the addressed liaison)
are the audited reads of it (``REFERRAL_VIEW`` naming the keys shown).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Principal
from ..core.errors import NotFound
from ..crisis.models import GuardianContact
from ..db import utcnow
from ..orgs.models import School
from ..screening.clock import local_today, school_tz
from ..screening.models import Response
from ..students.models import Student
from .models import Referral
from .queries import partner_may_see
from .transitions import Actor, actors_of

DATASET_KEYS = (
    "name", "sex", "age", "school", "grade", "guardian", "reason", "screening", "tier",
    "urgency",
)  # fmt: skip


def age_on(birth: dt.date | None, today: dt.date) -> int | None:
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _guardian(session: Session, referral: Referral, student: Student) -> dict[str, str] | None:
    guardians = student.guardians or []
    relation = referral.shared.get("guardian")
    if relation is None and referral.consent_contact_id is not None:
        contact = session.get(GuardianContact, referral.consent_contact_id)
        relation = contact.relation if contact is not None else None
    chosen = next((g for g in guardians if relation and g.get("relation") == relation), None)
    chosen = chosen or (guardians[0] if guardians else None)
    if chosen is None:
        return None
    return {"name": str(chosen.get("name") or ""), "phone": str(chosen.get("phone") or "")}


def _screening(session: Session, referral: Referral) -> list[dict[str, Any]]:
    ids = [uuid.UUID(r) for r in referral.shared.get("responses", [])]
    if not ids:
        return []
    rows = session.scalars(
        select(Response).where(Response.id.in_(ids), Response.student_id == referral.student_id)
        .order_by(Response.created_at)
    ).all()  # fmt: skip
    results = []
    for row in rows:
        data = row.data or {}
        scales = (data.get("scores") or {}).get("scales") or {}
        item: dict[str, Any] = {
            "instrument": row.instrument,
            "date": row.created_at.astimezone(school_tz()).date().isoformat(),
            "scores": {code: {"value": s.get("value"), "band": s.get("band")}
                       for code, s in scales.items()},
            "total_band": row.total_band,
        }  # fmt: skip
        if referral.shared.get("answers"):
            item["answers"] = dict(data.get("answers") or {})
        results.append(item)
    return results


def dataset(referral: Referral, session: Session | None = None) -> dict[str, Any]:
    """The minimum dataset of ``referral`` (keys :data:`DATASET_KEYS`, nothing else)."""
    session = session or object_session(referral)
    if session is None:
        raise RuntimeError("the referral is not attached to a session")
    student = session.get(Student, referral.student_id)
    school = session.get(School, referral.school_id)
    if student is None or school is None:  # pragma: no cover - foreign keys
        raise NotFound(_l("There is no such referral."))
    return {
        "name": student.name,
        "sex": student.sex,
        "age": age_on(student.birth_date, local_today()),
        "school": school.name,
        "grade": student.grade,
        "guardian": _guardian(session, referral, student),
        "reason": referral.reason,
        "screening": _screening(session, referral),
        "tier": student.tier,
        "urgency": referral.urgency,
    }


def _audit(session: Session, referral: Referral, who: str) -> None:
    audit.record(
        session, AuditAction.REFERRAL_VIEW, object_type="referral", object_id=referral.id,
        student_id=referral.student_id, school_id=referral.school_id,
        fields=list(DATASET_KEYS), detail={"view": who, "students": [referral.student_id]},
    )  # fmt: skip


def preview(
    session: Session, principal: Principal, referral_id: uuid.UUID, now: dt.datetime | None = None
) -> dict[str, Any]:
    """What the partner will see, for the sender (or the centre) before sending; audited."""
    now = now or utcnow()
    referral = session.get(Referral, referral_id)
    if referral is None or not actors_of(principal, referral, now) & {Actor.SENDER, Actor.CENTRE}:
        raise NotFound(_l("There is no such referral."))
    result = dataset(referral, session)
    _audit(session, referral, "preview")
    return result


def partner_view(
    session: Session, principal: Principal, referral_id: uuid.UUID, now: dt.datetime | None = None
) -> tuple[Referral, dict[str, Any]]:
    """The referral and its minimum dataset for the addressed liaison; ``NotFound`` for anyone
    else and once the access ended (the same answer as for a referral that does not exist)."""
    now = now or utcnow()
    referral = session.get(Referral, referral_id)
    if referral is None or not partner_may_see(session, principal, referral, now):
        raise NotFound(_l("There is no such referral."))
    result = dataset(referral, session)
    _audit(session, referral, "partner")
    return referral, result
