"""Shared set-up of the bulk-subscriber tests: two schools (one staffed, one without anybody,
so its alerts climb to the district), students whose tiers have just changed, the rule
decisions that changed them, and snapshots of what the subscribers wrote (ids and clock
readings left out, so the per-item and the bulk path can be compared)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wellbeing.alerts.models import Alert, AlertInbox, AlertRecipient, AlertStep
from wellbeing.auth.models import User
from wellbeing.core.authz import Role
from wellbeing.crisis.models import Crisis
from wellbeing.followups.models import FollowUp
from wellbeing.orgs.models import School
from wellbeing.risk.events import TierChanged
from wellbeing.students.models import Student

from ..factories import make_class, make_school, make_student, make_user

NOW = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


@dataclass
class World:
    school: School  # psych teachers, a leader
    bare: School  # nobody: alerts climb to the counsellor on duty
    staff: dict[str, User]
    students: list[Student] = field(default_factory=list)  # in ``school``
    others: list[Student] = field(default_factory=list)  # in ``bare``


def build_world(session: Session, settings: Any, per_school: int = 4) -> World:
    school, bare = make_school(session), make_school(session)
    staff = {
        "psych": make_user(session, settings, Role.PSYCH_TEACHER, school=school),
        "psych2": make_user(session, settings, Role.PSYCH_TEACHER, school=school),
        "leader": make_user(session, settings, Role.SCHOOL_LEADER, school=school),
        "c_duty": make_user(session, settings, Role.COUNSELLOR),
        "c_off": make_user(session, settings, Role.COUNSELLOR),
    }
    for key, user in staff.items():
        user.email = f"{key}@district.example"
    staff["psych"].locale = "zh_CN"
    staff["psych2"].locale = "en"
    staff["psych2"].email = None  # in the inbox, no email
    staff["c_duty"].on_duty = True
    klass, bare_class = make_class(session, school), make_class(session, bare)
    world = World(school, bare, staff)
    world.students = [make_student(session, school, klass) for _ in range(per_school)]
    world.others = [make_student(session, bare, bare_class) for _ in range(per_school)]
    session.flush()
    return world


def decide(
    session: Session, changes: list[tuple[Student, int, int]], at: dt.datetime = NOW
) -> list[TierChanged]:
    """Set each student's tier (as ``apply_rule_tiers`` does) and return the events' payloads
    (what the bulk path emits: no Student loaded)."""
    decisions = []
    for student, old, new in changes:
        student.tier = new
        decisions.append(TierChanged(
            student_id=student.id, school_id=student.school_id, from_tier=old, to_tier=new,
            decision_id=uuid.uuid4(), decided_at=at,
        ))  # fmt: skip
    session.flush()
    return decisions


def per_item(session: Session, handler: Callable[..., None], decisions: list[TierChanged]) -> None:
    """The per-item path: ``handler(session, change)`` per change, its Student loaded."""
    for d in decisions:
        handler(session, dataclasses.replace(d, student=session.get(Student, d.student_id)))


@contextmanager
def rolled_back(session: Session) -> Iterator[None]:
    """Run a path inside a savepoint that is rolled back afterwards."""
    savepoint = session.begin_nested()
    try:
        yield
    finally:
        savepoint.rollback()
        session.expire_all()


# --------------------------------------------------------------------------- snapshots


def alerts_snapshot(session: Session) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Every alert with its steps, inbox and recipients, ids and times made relative."""
    out = {}
    for a in session.scalars(select(Alert)):
        steps = session.scalars(select(AlertStep).where(AlertStep.alert_id == a.id)).all()
        inbox = session.scalars(select(AlertInbox).where(AlertInbox.alert_id == a.id)).all()
        recipients = session.scalars(
            select(AlertRecipient).where(AlertRecipient.alert_id == a.id)
        ).all()
        step_rung = {s.id: s.rung for s in steps}
        out[(a.kind, a.student_id, a.source_id)] = {
            "where": (a.district_id, a.school_id, a.tier, a.state, a.rung, a.reminders),
            "key": a.dedupe_key,
            "times": (a.due_at - a.raised_at, a.next_step_at - a.raised_at),
            "steps": sorted((s.rung, s.role, s.step, s.recipient_count) for s in steps),
            "steps_at": {s.at - a.raised_at for s in steps},
            "inbox": sorted((str(i.user_id), i.is_open, i.added_at - a.raised_at) for i in inbox),
            "recipients": sorted(
                (str(r.user_id), r.rung, step_rung[r.step_id], r.channel, r.outbox_id is not None)
                for r in recipients
            ),
        }
    return out


def crises_snapshot(session: Session) -> list[tuple[Any, ...]]:
    return sorted(
        (str(c.student_id), str(c.school_id), c.state, c.opened_at, str(c.decision_id))
        for c in session.scalars(select(Crisis))
    )


def followups_snapshot(session: Session) -> list[tuple[Any, ...]]:
    return sorted(
        (str(f.student_id), str(f.school_id), str(f.owner_id), f.due_at, f.source, f.state,
         f.cancelled_at, f.created_by)
        for f in session.scalars(select(FollowUp))
    )  # fmt: skip
