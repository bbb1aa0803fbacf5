"""Set-up shared by the letter and FHIR tests: a referral that shares a PHQ-9 result (with its
item answers), with both consents recorded, submitted to the centre."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wellbeing.config import Settings
from wellbeing.referrals import services
from wellbeing.referrals.models import Referral
from wellbeing.screening.models import Response
from wellbeing.screening.services import record_answers

from ..screening.helpers import open_campaign
from .helpers import World, draft, give_consent, make_world


def sharing_world(
    session: Session, settings: Settings, *, answers: bool = True, consent: bool = True
) -> tuple[World, Referral]:
    world = make_world(session, settings, tier=3, consent=consent)
    campaign = open_campaign(session, [world.school], instruments=("phq9",))
    record_answers(session, None, campaign, world.student,
                   {"phq9": {f"phq9_{n}": 2 for n in range(1, 10)}})  # fmt: skip
    response = session.scalars(
        select(Response).where(Response.student_id == world.student.id)
    ).one()
    if consent:
        give_consent(session, world, "partner_sharing")
    referral = draft(session, world, responses=[response.id], answers=answers,
                     guardian="mother", internal_reason="内部备注不外传")  # fmt: skip
    extra: dict[str, Any] = {} if consent else {"override_reason": "监护人失联，学生处于危机"}
    services.submit(session, world.people["sender"], referral.id, **extra)
    session.refresh(referral)
    return world, referral
