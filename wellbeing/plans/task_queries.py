"""Read side of plan tasks: one person's tasks, what they assigned that is overdue, the tasks
of a student, and the plan-work counts of the workbench. Never writes, never audits.

Whose task it is (the rule the pages, the API, the workbench and the agenda share):

* a task with an ``assignee_id`` is that person's;
* a task without one (a guardian's or an outside person's task of a plan, ``external``; or a
  ``write_plan`` / ``review_plan`` / ``update_plan`` task for the school) is tracked by the
  psychology teachers of its school, any of whom may mark it done.

Importing this file registers the tasks into the agenda page and the calendar feed
(``followups.agenda``: followups comes before plans in ``MODULES`` and cannot import it).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from ..auth.models import Membership, User
from ..core.authz import Principal, Role
from ..followups import agenda as agenda_sources
from ..followups.ical import FeedEvent
from ..students.models import Student
from .models import Plan, PlanState, PlanTask, PlanVersion, TaskState
from .tasks import display_title, may_complete

DONE_DAYS = 30  # done tasks stay on "my tasks" this long
FEED_PAST_DAYS = 30
FEED_AHEAD_DAYS = 180
FIRST_ROWS = 5
LIST_LIMIT = 500
REVIEW_AHEAD_DAYS = 7  # plans whose review falls due within a week show on the workbench
_NOBODY = uuid.UUID(int=0)


def _ids(ids: Collection[uuid.UUID]) -> list[uuid.UUID]:
    return sorted(ids, key=str) or [_NOBODY]


def tracked_schools(principal: Principal) -> frozenset[uuid.UUID]:
    """The schools whose unassigned tasks (guardians', outside people's, plan writing) the
    principal tracks: those where they are a psychology teacher."""
    return principal.school_ids(Role.PSYCH_TEACHER)


def _owned_by(user_id: uuid.UUID, schools: Collection[uuid.UUID]) -> ColumnElement[bool]:
    """The tasks of the user: assigned to them, or unassigned in a school they track."""
    mine = PlanTask.assignee_id == user_id
    if not schools:
        return mine
    return or_(mine, and_(PlanTask.assignee_id.is_(None), PlanTask.school_id.in_(_ids(schools))))


def is_owner(principal: Principal, task: PlanTask) -> bool:
    """May the principal see and complete this task (the rule above, ``tasks.may_complete``)?"""
    return may_complete(principal, task)


@dataclass(frozen=True)
class TaskRow:
    task: PlanTask
    student: Student

    @property
    def tracked(self) -> bool:
        """Not assigned to a person: tracked by the school's psychology teachers."""
        return self.task.assignee_id is None


@dataclass
class MyTasks:
    open: list[TaskRow] = field(default_factory=list)  # by due date
    done: list[TaskRow] = field(default_factory=list)  # the last DONE_DAYS days, newest first
    assigned_overdue: list[TaskRow] = field(default_factory=list)  # tasks I gave, not done

    @property
    def rows(self) -> list[TaskRow]:
        return self.open + self.done + self.assigned_overdue

    @property
    def students(self) -> list[Student]:
        return list({row.student.id: row.student for row in self.rows}.values())


def _rows(
    session: Session, *where: ColumnElement[bool], order: object, limit: int
) -> list[TaskRow]:
    result = session.execute(
        select(PlanTask, Student).join(Student, Student.id == PlanTask.student_id)
        .where(*where).order_by(order, PlanTask.id).limit(limit)  # type: ignore[arg-type]  # a column clause
    ).all()  # fmt: skip
    return [TaskRow(task, student) for task, student in result]


def my_tasks(session: Session, principal: Principal, now: dt.datetime, today: dt.date) -> MyTasks:
    """The principal's open tasks, those done in the last 30 days, and the overdue ones they
    assigned to others (``ix_plan_task_assignee_state_due``, ``..._school_state_due``,
    ``..._creator_state_due``)."""
    owned = _owned_by(principal.user_id, tracked_schools(principal))
    return MyTasks(
        open=_rows(session, owned, PlanTask.state == TaskState.OPEN, order=PlanTask.due_date,
                   limit=LIST_LIMIT),
        done=_rows(session, owned, PlanTask.state == TaskState.DONE,
                   PlanTask.done_at >= now - dt.timedelta(days=DONE_DAYS),
                   order=PlanTask.done_at.desc(), limit=LIST_LIMIT),
        assigned_overdue=assigned_overdue(session, principal.user_id, today, LIST_LIMIT).rows,
    )  # fmt: skip


@dataclass(frozen=True)
class Counted:
    count: int
    rows: list[TaskRow]


def open_tasks(session: Session, principal: Principal, limit: int = FIRST_ROWS) -> Counted:
    """The principal's open tasks (count, and the first by due date): the workbench panel."""
    where = (_owned_by(principal.user_id, tracked_schools(principal)),
             PlanTask.state == TaskState.OPEN)  # fmt: skip
    count = session.scalar(select(func.count()).select_from(PlanTask).where(*where)) or 0
    return Counted(count, _rows(session, *where, order=PlanTask.due_date, limit=limit))


def assigned_overdue(
    session: Session, user_id: uuid.UUID, today: dt.date, limit: int = FIRST_ROWS
) -> Counted:
    """Open tasks the user assigned (``created_by``) to someone else, due before today."""
    where = (
        PlanTask.created_by == user_id, PlanTask.state == TaskState.OPEN,
        PlanTask.due_date < today,
        or_(PlanTask.assignee_id.is_(None), PlanTask.assignee_id != user_id),
    )  # fmt: skip
    count = session.scalar(select(func.count()).select_from(PlanTask).where(*where)) or 0
    return Counted(count, _rows(session, *where, order=PlanTask.due_date, limit=limit))


def student_tasks(
    session: Session, student_id: uuid.UUID, limit: int = LIST_LIMIT
) -> list[PlanTask]:
    """Every task of a student, open and done (not cancelled), by due date
    (``ix_plan_task_student``)."""
    return list(
        session.scalars(
            select(PlanTask).where(PlanTask.student_id == student_id,
                                   PlanTask.state != TaskState.CANCELLED)
            .order_by(PlanTask.due_date, PlanTask.id).limit(limit)
        )
    )  # fmt: skip


def get_task(session: Session, task_id: uuid.UUID) -> TaskRow | None:
    found = session.execute(
        select(PlanTask, Student).join(Student, Student.id == PlanTask.student_id)
        .where(PlanTask.id == task_id)
    ).first()  # fmt: skip
    return TaskRow(found[0], found[1]) if found else None


def effective_version(session: Session, student_id: uuid.UUID) -> tuple[Plan, PlanVersion] | None:
    """The student's open plan and its version in effect (None when there is none yet)."""
    found = session.execute(
        select(Plan, PlanVersion)
        .join(PlanVersion, and_(PlanVersion.plan_id == Plan.id,
                                PlanVersion.number == Plan.effective_version))
        .where(Plan.student_id == student_id, Plan.state.in_([PlanState.ACTIVE, PlanState.REVIEW,
                                                              PlanState.SUBMITTED]))
    ).first()  # fmt: skip
    return (found[0], found[1]) if found else None


def user_names(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(_ids(ids))))
    return {row.id: row.display_name for row in rows}


# --------------------------------------------------------------------------- agenda and feed


def _agenda_items(
    session: Session, user_id: uuid.UUID, start: dt.date, end: dt.date, today: dt.date
) -> list[agenda_sources.AgendaItem]:
    """The user's open tasks due in the week (and, in the current week, overdue ones)."""
    schools = _psych_schools(session, user_id)
    due = and_(PlanTask.due_date >= start, PlanTask.due_date <= end)
    window = or_(due, PlanTask.due_date < today) if start <= today <= end else due
    rows = _rows(session, _owned_by(user_id, schools), PlanTask.state == TaskState.OPEN, window,
                 order=PlanTask.due_date, limit=LIST_LIMIT)  # fmt: skip
    return [
        agenda_sources.AgendaItem(
            day=row.task.due_date, what=display_title(row.task), endpoint="tasks.done",
            params={"task_id": row.task.id}, student=row.student,
            late=row.task.due_date < today, fields=("task.title", "task.due_date"),
        )
        for row in rows
    ]  # fmt: skip


def _feed(
    session: Session, user_id: uuid.UUID, today: dt.date, translate: Callable[[str], str]
) -> list[FeedEvent]:
    """(id, due date) of the user's open tasks: "Task" and a link, never a title or a name."""
    schools = _psych_schools(session, user_id)
    found = session.execute(
        select(PlanTask.id, PlanTask.due_date).where(
            _owned_by(user_id, schools), PlanTask.state == TaskState.OPEN,
            PlanTask.due_date >= today - dt.timedelta(days=FEED_PAST_DAYS),
            PlanTask.due_date < today + dt.timedelta(days=FEED_AHEAD_DAYS),
        ).order_by(PlanTask.due_date, PlanTask.id)
    ).all()  # fmt: skip
    base = current_app.extensions["wellbeing.settings"].base_url.rstrip("/")
    link = f"{base}{url_for('tasks.mine')}"
    summary = translate("Task")
    return [FeedEvent(uid=f"task-{tid}@wellbeing", day=due, summary=summary, url=link)
            for tid, due in found]  # fmt: skip


def _psych_schools(session: Session, user_id: uuid.UUID) -> set[uuid.UUID]:
    """The schools where the user is a psychology teacher (the feed has no principal)."""
    found = session.scalars(
        select(Membership.school_id).where(
            Membership.user_id == user_id, Membership.role == Role.PSYCH_TEACHER,
            Membership.school_id.is_not(None),
        )
    )  # fmt: skip
    return {school_id for school_id in found if school_id is not None}


TASK_LABEL = _l("Task")  # the feed's summary (translated per user by the feed)
agenda_sources.register(agenda=_agenda_items, feed=_feed)
