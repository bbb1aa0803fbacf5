"""The students module's events (declared here: every subscriber is above ``students``)."""

from __future__ import annotations

import uuid
from typing import NamedTuple

from ..core.events import Event


class StudentTransferred(NamedTuple):
    """A student moved to another school of the district.

    Emitted by ``students`` when a transfer is recorded, after the student's ``school_id`` is
    changed, in the same transaction (``students.transfer.move``: the transfer page and roster
    imports). ``crisis`` moves the open crisis, ``followups`` the open follow-ups and ``plans``
    the open plan and its open tasks to the new school; ``alerts`` tells the receiving school's
    psychology teachers (alert kind ``student_transferred_in``).

    - ``student_id``: the student.
    - ``old_school_id``: the school the student left.
    - ``new_school_id``: the school the student joined (``student.school_id`` now).
    - ``transfer_id``: the ``StudentTransfer`` row recorded (None only in tests that emit by hand).
    """

    student_id: uuid.UUID
    old_school_id: uuid.UUID
    new_school_id: uuid.UUID
    transfer_id: uuid.UUID | None = None


STUDENT_TRANSFERRED: Event[StudentTransferred] = Event("student_transferred", StudentTransferred)
