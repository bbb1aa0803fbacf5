"""What a referral rests on: a guardian's consent from the contact log, or an emergency override.

The rule (issue 15 item 3, decided here):

* A referral leaves the school (``submitted``, or ``sent`` straight to a partner for a red-tier
  student) only with a ``given`` consent for the purpose ``referral`` in the guardian-contact
  log (``crisis.consent.current_consent``): the latest entry of some guardian is ``given``, no
  guardian's latest entry is ``refused`` or ``withdrawn``, and the given entry is not older
  than the district policy's ``records.consent_valid_days``.
* When the chosen minimum dataset includes screening results (scores, bands, answers), the
  guardian must also have given consent for ``partner_sharing`` by the same rule: the identity
  fields and the reason go with any referral (the referral consent covers them), clinical data
  beyond them needs the sharing consent.
* Without consent, a red-tier student may be referred with an *emergency override*: a written
  reason, recorded as an override (who, when, why), never as consent; the school's leaders are
  told at once (services).
* A withdrawal (``CONSENT_WITHDRAWN``) of either purpose cancels the student's open referrals
  and ends the partner's access at once (services.cancel_for_consent).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core.errors import DomainError
from ..crisis.consent import ConsentEntry, current_consent
from ..crisis.models import ConsentDecision
from ..risk.policy import policy_for_student
from ..students.models import Student

REFERRAL, SHARING = "referral", "partner_sharing"
PURPOSES = (REFERRAL, SHARING)


class ConsentMissing(DomainError):
    code = "consent_missing"
    status = 409


@dataclass(frozen=True)
class ConsentBasis:
    """The consent entries a referral rests on (contact ids), or None for an override."""

    referral_contact_id: uuid.UUID | None
    sharing_contact_id: uuid.UUID | None


def valid_entry(
    session: Session, student: Student, purpose: str, now: dt.datetime
) -> ConsentEntry | None:
    """The guardian's ``given`` entry for ``purpose`` that a referral may rest on, or None
    (nobody asked, somebody refused or withdrew, or the consent is older than the policy)."""
    states = current_consent(session, student.id, purpose)
    if any(e.decision != ConsentDecision.GIVEN for e in states.values()):
        return None
    days = policy_for_student(session, student).records.consent_valid_days
    fresh = [e for e in states.values() if e.given and e.at >= now - dt.timedelta(days=days)]
    return max(fresh, key=lambda e: e.at) if fresh else None


def shares_clinical(shared: dict[str, object]) -> bool:
    """Does the selection share screening results (beyond identity and the reason)?"""
    return bool(shared.get("responses"))


def require_consent(
    session: Session, student: Student, shared: dict[str, object], now: dt.datetime
) -> ConsentBasis:
    """The consent basis, or ``ConsentMissing`` naming what is missing."""
    referral = valid_entry(session, student, REFERRAL, now)
    if referral is None:
        raise ConsentMissing(
            _l("A guardian's consent to the referral is needed (recorded in the guardian "
               "contact log, not withdrawn, and recent enough), or an emergency override "
               "for a student in crisis.")
        )  # fmt: skip
    sharing = None
    if shares_clinical(shared):
        sharing = valid_entry(session, student, SHARING, now)
        if sharing is None:
            raise ConsentMissing(
                _l("Screening results are shared only with a guardian's consent to sharing "
                   "with the partner: record it, or share no screening results.")
            )  # fmt: skip
    return ConsentBasis(referral.contact_id, sharing.contact_id if sharing else None)


def still_valid(
    session: Session, student_id: uuid.UUID, contact_id: uuid.UUID | None, purpose: str
) -> bool:
    """Is the consent a referral rests on still the guardian's word (no later refusal or
    withdrawal by any guardian for that purpose)? Read on every partner access."""
    if contact_id is None:
        return True
    states = current_consent(session, student_id, purpose)
    return bool(states) and all(e.decision == ConsentDecision.GIVEN for e in states.values())
