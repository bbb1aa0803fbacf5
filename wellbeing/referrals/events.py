"""The referral module's events (declared here: every expected subscriber, the referral pages,
the workbench and the API, is placed after ``referrals`` in ``MODULES``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import NamedTuple

from ..core.events import Event


class ReferralMoved(NamedTuple):
    """A referral moved from one state to another.

    Emitted by every move of ``referrals.services`` (and the consent-withdrawal cancellation),
    after the move, its ``ReferralEvent`` row and its audit entry are flushed, in the same
    transaction (a subscriber that raises rolls the move back). Subscriber: ``referrals.followup``
    (feedback received: the psychology teacher's plan-update task, and a plan review when the
    partner advises a return to school).

    - ``referral_id``: the referral.
    - ``student_id``: the student referred.
    - ``school_id``: the student's school when the referral was made.
    - ``from_state``: the state before (a ``ReferralState`` value).
    - ``to_state``: the state after.
    - ``actor``: who moved it (an ``Actor`` value: sender, centre, partner, system).
    - ``by_id``: the user who moved it (None for the system).
    - ``event_id``: the ``ReferralEvent`` row of the move.
    - ``at``: when (UTC).
    """

    referral_id: uuid.UUID
    student_id: uuid.UUID
    school_id: uuid.UUID
    from_state: str
    to_state: str
    actor: str
    by_id: uuid.UUID | None
    event_id: uuid.UUID
    at: dt.datetime


REFERRAL_MOVED: Event[ReferralMoved] = Event("referral_moved", ReferralMoved)
