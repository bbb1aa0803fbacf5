"""Resetting the cadence in bulk (screening imports): the same follow-ups cancelled and
scheduled as ``on_tier_changed`` per student, audited once per school."""

from __future__ import annotations

import datetime as dt

import time_machine
from sqlalchemy import event, select

from wellbeing.core.audit import AuditAction
from wellbeing.followups import bulk, services
from wellbeing.followups.models import CANCELLED, OPEN, OVERDUE, FollowUp

from ..core.bulk_world import NOW, build_world, decide, followups_snapshot, per_item, rolled_back
from ..factories import make_student

EARLIER = NOW - dt.timedelta(days=10)


def _schedule(session, student, owner, source="cadence", state=OPEN):  # type: ignore[no-untyped-def]
    followup = services.schedule_followup(
        session, None, student, due_at=EARLIER + dt.timedelta(days=5), owner_id=owner.id,
        source=source,
    )  # fmt: skip
    followup.state = state
    return followup


def _world(session, settings):  # type: ignore[no-untyped-def]
    w = build_world(session, settings)
    s, o, psych = w.students, w.others, w.staff["psych"]
    with time_machine.travel(EARLIER, tick=False):
        _schedule(session, s[1], psych)
        _schedule(session, s[1], psych, source="manual")  # not a cadence one: kept
        _schedule(session, s[2], psych, state=OVERDUE)
        _schedule(session, s[3], psych)
        _schedule(session, o[0], w.staff["c_duty"])
    s[3].status = "left"  # inactive: cancelled, nothing new
    session.flush()
    changes = [(s[0], 0, 1), (s[1], 1, 2), (s[2], 2, 3), (s[3], 0, 2), (o[0], 0, 3), (o[1], 0, 2)]
    return w, decide(session, changes)


def test_bulk_equals_resetting_the_cadence_per_decision(db_session, env):
    w, decisions = _world(db_session, env.settings)
    with time_machine.travel(NOW, tick=False):
        with rolled_back(db_session):
            per_item(db_session, services.on_tier_changed, decisions)
            one_by_one = followups_snapshot(db_session)
        bulk.on_tier_changed_many(db_session, decisions)
        in_bulk = followups_snapshot(db_session)
    assert in_bulk == one_by_one
    s, psych = w.students, str(w.staff["psych"].id)
    new = {(row[0], row[3] - NOW) for row in in_bulk if row[5] == OPEN and row[4] == "cadence"}
    assert new == {
        (str(s[0].id), dt.timedelta(days=30)), (str(s[1].id), dt.timedelta(days=7)),
        (str(s[2].id), dt.timedelta(days=1)),
    }  # fmt: skip
    assert {row[2] for row in in_bulk if row[5] == OPEN and row[4] == "cadence"} == {psych}
    assert len([row for row in in_bulk if row[5] == CANCELLED]) == 4


def test_loaded_follow_ups_see_the_cancellation_and_audit_is_per_school(
    db_session, env, audit_entries
):
    w, decisions = _world(db_session, env.settings)
    loaded = db_session.scalars(
        select(FollowUp).where(FollowUp.student_id == w.students[1].id, FollowUp.source == "cadence")
    ).one()  # fmt: skip
    first = len(audit_entries())
    bulk.on_tier_changed_many(db_session, decisions)
    assert loaded.state == CANCELLED and loaded.cancelled_at is not None
    entries = audit_entries()[first:]
    cancels = [e for e in entries if e.action == AuditAction.FOLLOWUP_CANCEL]
    creates = [e for e in entries if e.action == AuditAction.FOLLOWUP_CREATE]
    batch, single = sorted(cancels, key=lambda e: e.school_id != w.school.id)
    assert batch.object_type == "followup_batch" and batch.detail["cancelled"] == 3
    # One cancellation in a school: the entry cancelling it alone records.
    assert single.object_type == "followup" and single.student_id is not None
    assert single.detail == {"reason": "tier_changed"} and single.object_id is not None
    [create] = creates  # the school without staff schedules nothing
    assert create.school_id == w.school.id and create.object_type == "followup_batch"
    assert create.detail == {
        "source": "cadence", "owner": str(w.staff["psych"].id), "created": 3, "days": [1, 7, 30],
    }  # fmt: skip


def test_statements_do_not_grow_with_the_number_of_students(db_session, env):
    w = build_world(db_session, env.settings)
    students = [make_student(db_session, w.school) for _ in range(60)]
    for student in students[:30]:
        _schedule(db_session, student, w.staff["psych"])
    decisions = decide(db_session, [(st, 0, 2) for st in students])
    statements = []
    engine = db_session.get_bind().engine

    def count(*args):  # type: ignore[no-untyped-def]
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert bulk.reset_cadence_many(db_session, [d.student_id for d in decisions], "x") == (
            30,
            60,
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) < 20, statements
