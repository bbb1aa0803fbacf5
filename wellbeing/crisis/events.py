"""The crisis module's events (declared here: the referral module, the first expected
subscriber, is placed after ``crisis`` in ``MODULES``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import NamedTuple

from ..core.events import Event


class ConsentWithdrawn(NamedTuple):
    """A guardian withdrew a consent they had given.

    Emitted by ``crisis.guardian_log.record_guardian_contact`` when a contact carries a
    "withdrawn" consent entry, after the row is flushed and audited, in the same transaction
    (a subscriber that raises rolls the contact back). Nothing subscribes yet: the referral
    module (issue 14) is expected to stop sharing with partners on it.

    - ``student_id``: the student the consent is about.
    - ``school_id``: the student's school when the entry was recorded.
    - ``relation``: which guardian (a code of ``crisis.models.RELATIONS``).
    - ``purpose``: what the consent was for (a code of ``crisis.models.CONSENT_PURPOSES``).
    - ``contact_id``: the guardian-contact row that records the withdrawal.
    - ``withdrawn_at``: when the guardian said so (the contact's ``contacted_at``, UTC).
    - ``recorded_by_id``: the staff user who recorded it.
    """

    student_id: uuid.UUID
    school_id: uuid.UUID
    relation: str
    purpose: str
    contact_id: uuid.UUID
    withdrawn_at: dt.datetime
    recorded_by_id: uuid.UUID


CONSENT_WITHDRAWN: Event[ConsentWithdrawn] = Event("consent_withdrawn", ConsentWithdrawn)
