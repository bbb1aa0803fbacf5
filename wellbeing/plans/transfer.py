"""The plans module's part of a transfer (``STUDENT_TRANSFERRED``, emitted by
``students.transfer.move``): the open plan and its open tasks go to the receiving school, whose
psychology teachers then own the plan (its next review is theirs; the receiving school was
alerted by ``alerts``). Closed and cancelled plans, and done or cancelled tasks, stay with the
school that wrote them: they are what the sending school keeps reading for its read period.

Tasks keep their assignee: who does what is the plan's content, changed by its next version.

Imported by ``plans/services.py`` (``from . import transfer``) so the subscription is in place
wherever the app's services are.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..students.events import STUDENT_TRANSFERRED, StudentTransferred
from .models import OPEN_PLAN_STATES, Plan, PlanTask, TaskState


def on_student_transferred(session: Session, moved: StudentTransferred) -> None:
    session.execute(
        update(Plan)
        .where(Plan.student_id == moved.student_id, Plan.state.in_(OPEN_PLAN_STATES))
        .values(school_id=moved.new_school_id)
        .execution_options(synchronize_session="fetch")
    )
    session.execute(
        update(PlanTask)
        .where(PlanTask.student_id == moved.student_id, PlanTask.state == TaskState.OPEN)
        .values(school_id=moved.new_school_id)
        .execution_options(synchronize_session="fetch")
    )


STUDENT_TRANSFERRED.subscribe(on_student_transferred)
