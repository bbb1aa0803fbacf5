"""The plan's section of the growth record (its state, the review date, a link to the plan page,
cut by permission), and what the plan pages share with it: which plan and which body a page
shows, the audit of that read, the people it names, the staff a responsible adult is chosen
from.

A page reads a plan's content through :func:`shown`, i.e. the audited reads of
``plans.services`` (``read_plan``, ``read_version``, ``read_draft``)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import Membership, User
from ..auth.names import user_names
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, Role, can, ensure
from ..core.errors import NotFound
from ..core.states import state_label
from ..crisis.models import Crisis, CrisisStep
from ..screening.clock import school_tz
from ..students.chip import chip_fields
from ..students.models import Student
from ..students.record import SectionResult, section
from . import queries, services
from .models import OPEN_PLAN_STATES, Plan, PlanSignoff, PlanState, PlanVersion

SAFETY_STEP = "safety_plan"  # the crisis checklist's step a plan links
SECTION_FIELDS = ("plan.state", "plan.review_due")


@dataclass(frozen=True)
class Shown:
    """The body a page shows: a saved version's, or the working draft's (``version`` None)."""

    body: dict[str, Any]
    version: PlanVersion | None

    @property
    def is_draft(self) -> bool:
        return self.version is None

    @property
    def safety_crisis_id(self) -> uuid.UUID | None:
        """The linked crisis (the body stores its id as hex; the crisis page's URL wants a
        UUID)."""
        value = self.body.get("safety_crisis_id")
        try:
            return uuid.UUID(str(value)) if value else None
        except ValueError:
            return None


def student_or_404(
    session: Session, principal: Principal, permission: Permission, student_id: uuid.UUID
) -> Student:
    student = session.get(Student, student_id)
    if student is None:
        raise NotFound(_l("There is no such student."))
    ensure(principal, permission, student)
    return student


def latest_plan(session: Session, student_id: uuid.UUID) -> Plan | None:
    """The student's open plan (one at most), else the newest closed or cancelled one; one
    query."""
    plans = queries.plans_of(session, student_id)
    return next((p for p in plans if p.state in OPEN_PLAN_STATES), plans[0] if plans else None)


def shown(session: Session, principal: Principal, plan: Plan, number: int | None = None) -> Shown:
    """What a page shows of ``plan``, read through the services (which audit it): version
    ``number``; without one, the version waiting for sign-off, else the version in effect, else
    the newest; with no version, the draft to those who may write plans (nobody else reads a
    draft: they get an empty body)."""
    services.read_plan(session, principal, plan.id)
    if number is None:
        if plan.state == PlanState.SUBMITTED:
            number = plan.latest_version or None
        else:
            number = plan.effective_version or plan.latest_version or None
    if number is not None:
        found = services.read_version(session, principal, plan.id, number)
        return Shown(dict(found.body or {}), found)
    student = session.get_one(Student, plan.student_id)
    if plan.state in (PlanState.DRAFT, PlanState.REVIEW) and can(
        principal, Permission.PLANS_WRITE, student
    ):
        return Shown(services.read_draft(session, principal, plan.id), None)
    return Shown({}, None)


def audit_student(session: Session, principal: Principal, student: Student) -> None:
    """The ``STUDENT_VIEW`` of a page that names the student (its chip) and no plan."""
    audit.record(
        session, AuditAction.STUDENT_VIEW, object_type="student", object_id=student.id,
        student_id=student.id, school_id=student.school_id,
        fields=[*chip_fields(principal, [student]), "plan"],
    )  # fmt: skip


def audit_queue(session: Session, principal: Principal, students: Sequence[Student]) -> None:
    """The audit entry of a list of plans naming ``students`` with their chips."""
    audit.record(
        session, AuditAction.STUDENT_LIST, object_type="plan_signoff_queue",
        fields=[*chip_fields(principal, students), "plan.state", "plan.versions"],
        detail={"students": [str(s.id) for s in students]},
    )  # fmt: skip


def names_for(
    session: Session, plan: Plan | None, shown: Shown | None,
    signoffs: Iterable[PlanSignoff], versions: Iterable[PlanVersion],
) -> dict[uuid.UUID | str, str]:  # fmt: skip
    """Display names of everyone the page names (one query), keyed by id (and by its string,
    hex, as a body stores user ids)."""
    ids: set[uuid.UUID | None] = {s.by_id for s in signoffs}
    ids |= {v.author_id for v in versions}
    if plan is not None:
        ids |= {plan.created_by, plan.draft_by}
    for adult in (shown.body.get("adults") if shown else None) or []:
        try:
            ids.add(uuid.UUID(str(adult.get("user_id"))))
        except ValueError:
            continue
    found: dict[uuid.UUID | str, str] = {}
    for key, name in user_names(session, ids).items():
        found[key] = found[key.hex] = name
    return found


# Roles a responsible adult of the school is chosen from (a mentor is a teacher of the school).
_STAFF_ROLES = (Role.PSYCH_TEACHER, Role.CLASS_TEACHER)


def staff_choices(
    session: Session, student: Student, body: dict[str, Any]
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The school's staff a responsible adult is chosen from: the class teachers of the
    student's class first, then the psychology teachers, then the school's other teachers (as
    mentors). Returns (user id, hex as the body stores it -> name, the select's options); an adult already in ``body``
    who is no longer on the list stays a choice."""
    rows = session.execute(
        select(User.id, User.display_name, Membership.role, Membership.class_id)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.school_id == student.school_id, Membership.role.in_(_STAFF_ROLES),
               User.active.is_(True))
    ).all()  # fmt: skip
    rank: dict[str, tuple[int, str, str]] = {}
    for user_id, name, role, class_id in rows:
        if role == Role.CLASS_TEACHER and class_id == student.class_id:
            entry = (0, name, _("class teacher of the student's class"))
        elif role == Role.PSYCH_TEACHER:
            entry = (1, name, _("psychology teacher"))
        else:
            entry = (2, name, _("teacher (mentor)"))
        key = user_id.hex
        rank[key] = min(rank.get(key, entry), entry)
    for adult in body.get("adults") or []:
        user_id = adult.get("user_id")
        if user_id and str(user_id) not in rank:
            rank[str(user_id)] = (3, adult.get("name") or "", _("no longer on the staff list"))
    ordered = sorted(rank.items(), key=lambda item: (item[1][0], item[1][1]))
    names = {key: entry[1] for key, entry in ordered}
    options = [
        (f"user:{key}", _("%(name)s (%(role)s)", name=entry[1], role=entry[2]))
        for key, entry in ordered
    ]
    return names, options


def crisis_choices(
    session: Session, student: Student, body: dict[str, Any]
) -> list[tuple[str, str]]:
    """The student's crises whose checklist has a safety plan (newest first), as options of
    the "safety step" select (values: the crisis id as the body stores it)."""
    rows = session.execute(
        select(Crisis.id, CrisisStep.done_at)
        .join(CrisisStep, CrisisStep.crisis_id == Crisis.id)
        .where(Crisis.student_id == student.id, CrisisStep.step == SAFETY_STEP)
        .order_by(CrisisStep.done_at.desc())
    ).all()
    options = [
        (crisis_id.hex, _("Safety plan made on %(date)s", date=format_date(local_day(done_at))))
        for crisis_id, done_at in rows
    ]
    linked = body.get("safety_crisis_id")
    if linked and linked not in {value for value, _label in options}:
        options.append((str(linked), _("The crisis linked before")))
    return options


def local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(school_tz()).date()


@section("plan", order=45)
def plan_section(session: Session, principal: Principal, student: Student) -> SectionResult:
    if not can(principal, Permission.PLANS_READ, student):
        return None
    found = latest_plan(session, student.id)
    may_write = can(principal, Permission.PLANS_WRITE, student)
    context = {
        "plan": found,
        "state": state_label(PlanState(found.state)) if found is not None else None,
        "may_write": may_write,
        "PlanState": PlanState,
    }
    return "plans/_record_section.html", context, SECTION_FIELDS if found else ["plan"]
