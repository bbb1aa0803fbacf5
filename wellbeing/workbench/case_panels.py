"""The workbench panels of the plans and referrals modules: my tasks, overdue tasks I assigned,
plans to write, plan reviews due, plans waiting for sign-off, the centre's referral queue and
the school's referrals waiting for its psychology teachers. Each panel shows only when it holds
something (a class teacher with no task sees no task panel). Registered in
``services.LATER_PANELS`` at import (``views`` imports this file)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..alerts.district import centre_districts
from ..core.authz import Permission, Principal, Role, can
from ..core.states import state_name
from ..plans import queries as plan_queries
from ..plans import task_queries
from ..plans.tasks import display_title
from ..referrals import queries as referral_queries
from ..referrals.models import ReferralState
from . import queries
from .services import LATER_PANELS, Panel, PanelSource, Row, Today, named

TASK_FIELDS = ("task.title", "task.due_date")
PLAN_LIMIT = 1000  # plans.queries lists: counted in Python (a school's plans are few)


def _task_rows(found: task_queries.Counted, today: Today, endpoint: str | None = None) -> list[Row]:
    day = today.now.astimezone(today.tz).date()
    return [
        Row(endpoint or "tasks.done", {"task_id": r.task.id} if endpoint is None
            else {"_anchor": "assigned"}, display_title(r.task), r.student,
            late=r.task.due_date < day, day=r.task.due_date)
        for r in found.rows
    ]  # fmt: skip


def tasks_panel(session: Session, principal: Principal, today: Today) -> Panel | None:
    """My open tasks from plans (the student as the chip: a plain name to a class teacher)."""
    if not can(principal, Permission.TASKS_OWN):
        return None
    found = task_queries.open_tasks(session, principal)
    if not found.count:
        return None
    return Panel("tasks", _l("My tasks"), found.count, _task_rows(found, today),
                 ("tasks.mine", {}), fields=TASK_FIELDS)  # fmt: skip


def assigned_tasks_panel(session: Session, principal: Principal, today: Today) -> Panel | None:
    """Overdue tasks the principal gave to others (from the plans they wrote)."""
    day = today.now.astimezone(today.tz).date()
    found = task_queries.assigned_overdue(session, principal.user_id, day)
    if not found.count:
        return None
    return Panel("tasks_assigned", _l("Overdue tasks I assigned"), found.count,
                 _task_rows(found, today, "tasks.mine"), ("tasks.mine", {"_anchor": "assigned"}),
                 fields=TASK_FIELDS)  # fmt: skip


def _plan_panel(key: str, title: object, rows: list[plan_queries.PlanRow], what: object,
                more: tuple[str, dict[str, Any]] | None, today: Today) -> Panel | None:  # fmt: skip
    if not rows:
        return None
    day = today.now.astimezone(today.tz).date()
    shown = [
        Row("plans.plan", {"student_id": r.student.id}, what, r.student, late=bool(r.due and r.due < day), day=r.due)
        for r in rows[: queries.FIRST_ROWS]
    ]  # fmt: skip
    return Panel(key, title, len(rows), shown, more)


def plans_to_write_panel(session: Session, principal: Principal, today: Today) -> Panel | None:
    day = today.now.astimezone(today.tz).date()
    rows = plan_queries.proposals_due(session, principal, day, PLAN_LIMIT)
    return _plan_panel("plans_to_write", _l("Plans to write"), rows, _l("Write the plan"), None, today)  # fmt: skip


def plan_reviews_panel(session: Session, principal: Principal, today: Today) -> Panel | None:
    day = today.now.astimezone(today.tz).date()
    rows = plan_queries.reviews_due(session, principal, day, PLAN_LIMIT)
    return _plan_panel("plan_reviews", _l("Plan reviews due"), rows, _l("Review the plan"), None, today)  # fmt: skip


def plan_signoffs_panel(session: Session, principal: Principal, today: Today) -> Panel | None:
    day = today.now.astimezone(today.tz).date()
    rows = plan_queries.signoff_queue(session, principal, day, PLAN_LIMIT)
    return _plan_panel("plan_signoffs", _l("Plans waiting for sign-off"), rows,
                       _l("Sign off the plan"), ("plans.signoffs", {}), today)  # fmt: skip


def _referral_rows(session: Session, principal: Principal, referrals: list[Any], today: Today) -> list[Row]:  # fmt: skip
    students = queries.students_by_id(session, {r.student_id for r in referrals})
    return [
        Row("referrals.detail", {"referral_id": r.id}, state_name(ReferralState(r.state)),
            named(principal, students.get(r.student_id)), r.due_at,
            late=bool(r.due_at and r.due_at < today.now))
        for r in referrals[: queries.FIRST_ROWS]
    ]  # fmt: skip


def referral_queue_panel(session: Session, principal: Principal, today: Today) -> Panel | None:
    """The centre's referral queue, most overdue first (issue 15 item 6); absent when empty."""
    found = [row.referral for d in sorted(centre_districts(principal))
             for row in referral_queries.centre_queue(session, d, today.now)]  # fmt: skip
    if not found:
        return None
    found.sort(key=lambda r: (r.due_at is None, r.due_at or today.now))
    return Panel("referral_queue", _l("Referrals to triage"), len(found),
                 _referral_rows(session, principal, found, today), ("referrals.index", {}),
                 fields=("referral.state", "referral.due"))  # fmt: skip


# What a psychology teacher acts on: a draft to finish, a referral the centre returned, the
# partner's feedback to read (and the plan to update).
SENDER_STATES = (ReferralState.DRAFT, ReferralState.RETURNED, ReferralState.FEEDBACK)


def school_referrals_panel(session: Session, principal: Principal, today: Today) -> Panel | None:
    school_ids = {s.school_id for s in principal.scopes
                  if s.role == Role.PSYCH_TEACHER and s.school_id and s.class_id is None}  # fmt: skip
    found = [r for school_id in sorted(school_ids)
             for r in referral_queries.school_referrals(session, school_id)
             if r.state in SENDER_STATES]  # fmt: skip
    if not found:
        return None
    return Panel("referrals_waiting", _l("Referrals waiting for you"), len(found),
                 _referral_rows(session, principal, found, today), ("referrals.index", {}),
                 fields=("referral.state",))  # fmt: skip


_TASKS: list[PanelSource] = [tasks_panel, assigned_tasks_panel]
for role, sources in {
    Role.PSYCH_TEACHER: [*_TASKS, plans_to_write_panel, plan_reviews_panel, school_referrals_panel],
    Role.CLASS_TEACHER: [*_TASKS],
    Role.SCHOOL_LEADER: [*_TASKS, plan_signoffs_panel],
    Role.COUNSELLOR: [
        referral_queue_panel,
        *_TASKS,
        plan_signoffs_panel,
        plans_to_write_panel,
        plan_reviews_panel,
    ],
}.items():
    LATER_PANELS.setdefault(role, []).extend(sources)
