"""The plans side of "one event, one acknowledgement" (:mod:`wellbeing.alerts.links`).

The overdue scan (``jobs.py``) raises ``plan_review_overdue`` and ``plan_proposal_overdue``
alerts with the plan as their source. The alert page lists that plan (its state and the date
that was missed, never its content), linking to the student's plan page, for people who may
read the student's plan (``PLANS_READ``). Acknowledging the alert changes nothing on the plan:
the overdue review or the missing plan is done by writing it, which an acknowledgement must not
pretend; the confirmation says where to go for those who may write it (``PLANS_WRITE``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..alerts import links as alert_links
from ..alerts.links import LinkedItem, rows_by_id
from ..alerts.models import Alert
from ..core.authz import Permission, Principal, can
from ..core.states import state_label
from ..students.models import Student
from .models import Plan, PlanState

PLAN_ALERT_KINDS = ("plan_review_overdue", "plan_proposal_overdue")


class Day:
    """A date in the reader's language when the label is rendered."""

    def __init__(self, day: dt.date) -> None:
        self.day = day

    def __str__(self) -> str:
        return str(format_date(self.day, "medium"))


def plan_of_alert(session: Session, alert: Alert) -> tuple[Plan, Student] | None:
    """The plan a plan alert is about (None for other alerts, or a plan since purged)."""
    if alert.kind not in PLAN_ALERT_KINDS or alert.source_id is None:
        return None
    plan = session.get(Plan, alert.source_id)
    student = session.get(Student, plan.student_id) if plan is not None else None
    return (plan, student) if plan is not None and student is not None else None


def plan_item(alert: Alert, plan: Plan) -> LinkedItem:
    due = plan.review_due if alert.kind == "plan_review_overdue" else plan.proposal_due
    when = Day(due) if due is not None else ""
    if alert.kind == "plan_review_overdue":
        label = _l("The student's plan: review due %(date)s", date=when)
    else:
        label = _l("The student's plan: to be written by %(date)s", date=when)
    return LinkedItem(
        "plan", plan.id, label, state_label(PlanState(plan.state)), "plans.plan",
        {"student_id": plan.student_id},
    )  # fmt: skip


def plan_links(
    session: Session, principal: Principal, alerts: Sequence[Alert]
) -> dict[uuid.UUID, list[LinkedItem]]:
    """The plan each plan alert is about, for people who may read the student's plan."""
    mine = [a for a in alerts if a.kind in PLAN_ALERT_KINDS and a.source_id is not None]
    plans = rows_by_id(session, Plan, [a.source_id for a in mine])
    students = rows_by_id(session, Student, [p.student_id for p in plans.values()])
    items: dict[uuid.UUID, list[LinkedItem]] = {}
    for alert in mine:
        plan = plans.get(alert.source_id) if alert.source_id is not None else None
        student = students.get(plan.student_id) if plan is not None else None
        if (
            plan is not None
            and student is not None
            and can(principal, Permission.PLANS_READ, student)
        ):
            items[alert.id] = [plan_item(alert, plan)]
    return items


def to_the_plan(
    session: Session, principal: Principal, alert: Alert, now: dt.datetime
) -> list[object]:
    """Nothing moves (see the module docstring); the confirmation points to the plan."""
    found = plan_of_alert(session, alert)
    if found is None or not can(principal, Permission.PLANS_WRITE, found[1]):
        return []
    if alert.kind == "plan_review_overdue":
        return [_l("Open the student's plan (linked below) to review it.")]
    return [_l("Open the student's plan (linked below) to write it.")]


alert_links.register(links=plan_links, on_acknowledge=to_the_plan)
