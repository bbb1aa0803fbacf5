"""The plan's part of the growth-record timeline: versions saved, sign-off decisions (signed or
returned), and goal status changes (read from consecutive versions of a plan).

Shown in full to those who may read plans on the student (psychology teachers, school leaders,
district counsellors involved with the student); absent for everyone else: a class teacher sees
only their own tasks (on their task list), supervisors, administrators and partners no plan.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.authz import Permission, Principal, can
from ..students.models import Student
from ..students.timeline import PER_KIND_LIMIT, TimelineItem, names_of
from .body import GOAL_ACHIEVEMENT_LABELS, GOAL_LIFECYCLE_LABELS
from .models import Plan, PlanSignoff, PlanVersion

KINDS = {
    "plan_version": _l("Plan versions"),
    "plan_signoff": _l("Plan sign-offs"),
    "plan_goal": _l("Plan goal changes"),
}
GOAL_TEXT_SHOWN = 80


def _inside(at: dt.datetime, since: dt.datetime | None, until: dt.datetime | None) -> bool:
    return (since is None or at >= since) and (until is None or at < until)


def _versions_url(student: Student, number: int) -> str:
    if number > 1:
        return url_for("plans.versions", student_id=student.id, a=number - 1, b=number)
    return url_for("plans.versions", student_id=student.id)


def items(
    session: Session, principal: Principal, student: Student,
    since: dt.datetime | None, until: dt.datetime | None,
) -> list[TimelineItem]:  # fmt: skip
    if not can(principal, Permission.PLANS_READ, student):
        return []
    versions = session.scalars(
        select(PlanVersion)
        .join(Plan, Plan.id == PlanVersion.plan_id)
        .where(Plan.student_id == student.id)
        .order_by(PlanVersion.created_at.desc())
        .limit(PER_KIND_LIMIT)
    ).all()
    decisions = session.execute(
        select(PlanSignoff, PlanVersion.number)
        .join(Plan, Plan.id == PlanSignoff.plan_id)
        .join(PlanVersion, PlanVersion.id == PlanSignoff.version_id)
        .where(Plan.student_id == student.id)
        .order_by(PlanSignoff.created_at.desc())
        .limit(PER_KIND_LIMIT)
    ).all()
    names = names_of(
        session, {v.author_id for v in versions} | {row.by_id for row, _n in decisions}
    )
    found = [
        _version_item(student, v, names.get(v.author_id))
        for v in versions
        if _inside(v.created_at, since, until)
    ]
    for row, number in decisions:
        if _inside(row.created_at, since, until):
            found.append(_decision_item(student, row, number, names.get(row.by_id)))
    found.extend(_goal_changes(student, list(versions), names, since, until))
    return found


def _version_item(student: Student, v: PlanVersion, author: str | None) -> TimelineItem:
    if v.signoff_required:
        need = _("It needs a sign-off.")
    elif v.number > 1 and not v.material:
        need = _("No material change: no sign-off needed.")
    else:
        need = _("No sign-off needed.")
    return TimelineItem(
        at=v.created_at, kind="plan_version",
        title=_("Plan version %(number)s saved", number=v.number),
        lines=(need, _("Next review: %(date)s", date=v.review_due.isoformat())),
        actor=author, url=_versions_url(student, v.number),
    )  # fmt: skip


def _decision_item(
    student: Student, row: PlanSignoff, number: int, who: str | None
) -> TimelineItem:
    if row.decision == "signed":
        title = _("Plan version %(number)s signed off", number=number)
        lines: tuple[str, ...] = ()
    else:
        title = _("Plan version %(number)s returned", number=number)
        lines = (_("Reason: %(reason)s", reason=row.reason or ""),)
    return TimelineItem(
        at=row.created_at, kind="plan_signoff", title=title, lines=lines, actor=who,
        url=url_for("plans.plan", student_id=student.id),
    )  # fmt: skip


def _goal_changes(
    student: Student, versions: list[PlanVersion], names: Any,
    since: dt.datetime | None, until: dt.datetime | None,
) -> list[TimelineItem]:  # fmt: skip
    """A goal whose status or progress differs from the plan's previous version."""
    by_plan: dict[Any, list[PlanVersion]] = {}
    for v in sorted(versions, key=lambda v: (v.plan_id, v.number)):
        by_plan.setdefault(v.plan_id, []).append(v)
    found: list[TimelineItem] = []
    for chain in by_plan.values():
        for old, new in itertools.pairwise(chain):
            if not _inside(new.created_at, since, until):
                continue
            before = {g["id"]: g for g in (old.body or {}).get("goals") or []}
            for goal in (new.body or {}).get("goals") or []:
                was = before.get(goal.get("id"))
                if was is None:
                    continue
                lines = _status_lines(was, goal)
                if lines:
                    text = str(goal.get("text") or "")[:GOAL_TEXT_SHOWN]
                    found.append(
                        TimelineItem(
                            at=new.created_at, kind="plan_goal",
                            title=_("Goal changed: %(goal)s", goal=text), lines=lines,
                            actor=names.get(new.author_id),
                            url=_versions_url(student, new.number),
                        )
                    )  # fmt: skip
    return found


def _status_lines(was: dict[str, Any], now: dict[str, Any]) -> tuple[str, ...]:
    lines = []
    for key, label, labels in (
        ("lifecycle", _l("Goal status"), GOAL_LIFECYCLE_LABELS),
        ("achievement", _l("Progress"), GOAL_ACHIEVEMENT_LABELS),
    ):
        if was.get(key) != now.get(key):
            lines.append(
                _("%(what)s: %(before)s → %(after)s", what=label,
                  before=labels.get(str(was.get(key)), ""), after=labels.get(str(now.get(key)), ""))
            )  # fmt: skip
    return tuple(lines)
