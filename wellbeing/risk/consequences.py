"""What a tier decision means for the student's crisis, as the tier pages need to tell it.

The tier pages (:mod:`wellbeing.risk.views`) sit below ``crisis`` in the layering: ``crisis``
reads tiers and decisions, never the reverse. Yet approving a step-down from red settles the
student's open crisis (closed with a summary, or kept open), and the message after a decision
says what it started (a crisis, an alert, who was told). So the crisis module hands the tier
pages these four functions when its blueprint is registered with the app
(``crisis.views``: ``app.extensions[EXTENSION]``), and the pages read them with :func:`provided`:
dependency inversion, so the import graph keeps one direction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

EXTENSION = "wellbeing.tier_consequences"


@dataclass(frozen=True)
class TierConsequences:
    """The crisis module's part of the tier pages.

    - ``open_crisis(session, student_id)``: the student's open crisis, or None.
    - ``approve_stepdown(session, actor, decision_id, crisis_action=..., summary=...)``: approve
      a pending step-down and close or keep the open crisis as chosen; returns what was done
      (read by ``stepdown_message``). Refusals are DomainErrors.
    - ``stepdown_message(approval)``: the approver's confirmation.
    - ``decision_message(session, student, decision, since=...)``: what a person's decision did.
    """

    open_crisis: Callable[[Session, uuid.UUID], object | None]
    approve_stepdown: Callable[..., Any]
    stepdown_message: Callable[[Any], str]
    decision_message: Callable[..., str]


def provided() -> TierConsequences:
    """The consequences the crisis module registered with the current app."""
    found = current_app.extensions.get(EXTENSION)
    if not isinstance(found, TierConsequences):
        raise RuntimeError("the crisis module is not registered: the tier pages need it")
    return found
