"""The students module's events (declared here: every subscriber is above ``students``)."""

from __future__ import annotations

import uuid
from typing import NamedTuple

from ..core.events import Event


class StudentTransferred(NamedTuple):
    """A student moved to another school of the district.

    Emitted by ``students`` when a transfer is recorded, after the student's ``school_id`` is
    changed, in the same transaction (nothing emits it yet: transfers are not implemented).
    ``crisis`` moves the open crisis and ``followups`` the open follow-ups to the new school.

    - ``student_id``: the student.
    - ``old_school_id``: the school the student left.
    - ``new_school_id``: the school the student joined (``student.school_id`` now).
    """

    student_id: uuid.UUID
    old_school_id: uuid.UUID
    new_school_id: uuid.UUID


STUDENT_TRANSFERRED: Event[StudentTransferred] = Event("student_transferred", StudentTransferred)
