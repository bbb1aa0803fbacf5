"""The students module's events (declared here: every subscriber is above ``students``)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
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


class StudentLeft(NamedTuple):
    """A student left the school or graduated: the record is now sealed.

    Emitted by ``students.enrolment.record_leaving`` (the leavers page, ``record_leavers`` from
    the CLI), after the status, ``left_at`` and ``sealed_at`` are set and both audit entries
    written, in the same transaction. The subscribers close what was still open about the
    student, each through its own state machine and audited, as the system (no person):
    ``alerts`` resolves the unresolved alerts with a note saying the student left
    (``alerts/leaving.py``), ``followups`` cancels the open and overdue follow-ups
    (``followups/leaving.py``), ``plans`` closes (or cancels, when nothing was in effect yet)
    the open plan with the reason and cancels its open tasks (``plans/leaving.py``).

    - ``student_id``: the student.
    - ``school_id``: the school the student left (``student.school_id``).
    - ``status``: ``"left"`` or ``"graduated"`` (``StudentStatus``).
    - ``left_on``: the date of leaving as the school recorded it (``student.left_at``).
    - ``by_id``: the user who recorded it (None for the CLI or a roster job).
    - ``closed``: where each subscriber adds what it closed, by kind (``alerts``,
      ``followups``, ``plans``, ``tasks``): the leavers page says so in words
      (``enrolment.LeaversResult.closed`` is the same counter for a whole list).
    """

    student_id: uuid.UUID
    school_id: uuid.UUID
    status: str
    left_on: dt.date
    by_id: uuid.UUID | None
    closed: Counter[str]


STUDENT_LEFT: Event[StudentLeft] = Event("student_left", StudentLeft)
