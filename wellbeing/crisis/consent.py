"""Guardians' consent, derived from the guardian-contact log (read-only).

The log (``GuardianContact``) is append-only; a contact may carry one consent entry (given,
refused or withdrawn, for one purpose). The consent state for a (student, guardian, purpose) is
the latest entry: the one with the latest ``contacted_at`` (when the guardian said it), ties
broken by the order of recording. Nothing is stored besides the log, so the state cannot
disagree with it.

:func:`current_consent` is what the referral module (placed after ``crisis``) reads. Like any
query it neither checks permissions nor audits: the caller's service does both.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import ConsentDecision, GuardianContact


@dataclass(frozen=True)
class ConsentEntry:
    """One consent entry of the log, as the derivation reads it."""

    relation: str
    purpose: str
    decision: str
    at: dt.datetime
    contact_id: uuid.UUID | None = None

    @property
    def given(self) -> bool:
        return self.decision == ConsentDecision.GIVEN


def latest_by_guardian_and_purpose(
    entries: Iterable[ConsentEntry],
) -> dict[tuple[str, str], ConsentEntry]:
    """The state per (guardian, purpose): the latest entry of ``entries`` (given in recording
    order; an entry with the same time as an earlier one wins over it)."""
    state: dict[tuple[str, str], ConsentEntry] = {}
    for entry in entries:
        key = (entry.relation, entry.purpose)
        if key not in state or entry.at >= state[key].at:
            state[key] = entry
    return state


def _entries(
    session: Session, student_id: uuid.UUID, purpose: str | None = None
) -> list[ConsentEntry]:
    stmt = select(GuardianContact).where(
        GuardianContact.student_id == student_id, GuardianContact.consent.is_not(None)
    )
    if purpose is not None:
        stmt = stmt.where(GuardianContact.consent_purpose == purpose)
    rows = session.scalars(stmt.order_by(GuardianContact.created_at, GuardianContact.contacted_at))
    return [
        ConsentEntry(r.relation, r.consent_purpose or "", r.consent or "", r.contacted_at, r.id)
        for r in rows
    ]


def consent_states(session: Session, student_id: uuid.UUID) -> dict[tuple[str, str], ConsentEntry]:
    """Every (guardian, purpose) with an entry for the student, and its current state."""
    return latest_by_guardian_and_purpose(_entries(session, student_id))


def current_consent(
    session: Session, student_id: uuid.UUID, purpose: str
) -> dict[str, ConsentEntry]:
    """The current consent of each guardian (by relation) of the student for ``purpose`` (a
    code of ``CONSENT_PURPOSES``); a guardian never asked is absent. A referral may go ahead
    when some guardian's entry is ``given`` and none is ``refused``/``withdrawn``: that rule is
    the referral module's, this only reports the states."""
    states = latest_by_guardian_and_purpose(_entries(session, student_id, purpose))
    return {relation: entry for (relation, _purpose), entry in states.items()}
