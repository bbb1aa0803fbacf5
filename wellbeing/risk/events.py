"""The risk module's events (declared here: every subscriber is above ``risk``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from sqlalchemy.orm import Session

from ..core.events import Event
from ..students.models import Student


@dataclasses.dataclass(frozen=True)
class TierChanged:
    """A student's tier (level) changed.

    Emitted by ``risk``: ``decisions.record_tier_change`` (one ``emit`` per direct decision or
    approved step-down) and ``bulk.apply_rule_tiers`` (one ``emit_many`` per batch of rule
    decisions of a screening import), after the student's tier is written and audited, in the
    same transaction. ``alerts`` raises a ``red_tier`` alert and ``crisis`` opens a crisis when
    the student becomes red; ``followups`` resets the cadence.

    - ``student_id``: the student.
    - ``school_id``: the student's school.
    - ``from_tier``: the tier before (0 green … 3 red).
    - ``to_tier``: the tier now.
    - ``decision_id``: the ``tier_decision`` that made the change (alerts' and crises' source).
    - ``decided_at``: when it was decided (``None``: now).
    - ``student``: the loaded Student when the emitter has it (single emits, and the per-item
      handlers of a bulk emit, whose ``expand`` loads them in chunks); read it through
      :meth:`load_student`. The bulk path never loads it for bulk forms.
    """

    student_id: uuid.UUID
    school_id: uuid.UUID
    from_tier: int
    to_tier: int
    decision_id: uuid.UUID
    decided_at: dt.datetime | None = None
    student: Student | None = dataclasses.field(default=None, compare=False, repr=False)

    @classmethod
    def of(
        cls,
        student: Student,
        from_tier: int,
        to_tier: int,
        decision_id: uuid.UUID,
        decided_at: dt.datetime | None = None,
    ) -> TierChanged:
        return cls(
            student.id, student.school_id, from_tier, to_tier, decision_id, decided_at, student
        )

    def load_student(self, session: Session) -> Student:
        if self.student is not None:
            return self.student
        return session.get_one(Student, self.student_id)


TIER_CHANGED: Event[TierChanged] = Event("tier_changed", TierChanged)
