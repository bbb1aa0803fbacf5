"""Opening crises in bulk (screening imports): the same crises as ``open_crisis`` per red
student, one per student, audited once per school."""

from __future__ import annotations

import time_machine
from sqlalchemy import select

from wellbeing.core.audit import AuditAction
from wellbeing.crisis import bulk, services
from wellbeing.crisis.models import Crisis

from ..core.bulk_world import NOW, build_world, crises_snapshot, decide, per_item, rolled_back


def test_bulk_equals_opening_one_crisis_per_decision(db_session, env):
    w = build_world(db_session, env.settings)
    s, o = w.students, w.others
    services.open_crisis(db_session, s[3])  # already in crisis: not a second one
    decisions = decide(db_session, [
        (s[0], 0, 3), (s[1], 2, 3), (s[2], 1, 2), (s[3], 2, 3), (o[0], 0, 3), (o[1], 3, 3),
    ])  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        with rolled_back(db_session):
            per_item(db_session, services._on_tier_changed, decisions)
            one_by_one = crises_snapshot(db_session)
        bulk.on_tier_changed_many(db_session, decisions)
        in_bulk = crises_snapshot(db_session)
    assert in_bulk == one_by_one
    opened = {row[0] for row in in_bulk if row[4] != "None"}
    assert opened == {str(s[0].id), str(s[1].id), str(o[0].id)}


def test_one_crisis_per_student_within_a_batch_and_one_audit_entry_per_school(
    db_session, env, audit_entries
):
    w = build_world(db_session, env.settings)
    s, o = w.students, w.others
    first = decide(db_session, [(s[0], 0, 3), (s[1], 0, 3), (o[0], 0, 3)])
    again = decide(db_session, [(s[0], 1, 3)])  # two batches concatenated by events.deferred
    bulk.on_tier_changed_many(db_session, first + again)
    crises = db_session.scalars(select(Crisis)).all()
    assert sorted(c.student_id for c in crises) == sorted([s[0].id, s[1].id, o[0].id])
    assert {c.decision_id for c in crises if c.student_id == s[0].id} == {first[0].decision_id}
    entries = audit_entries(AuditAction.CRISIS_UPDATE)
    batch, single = sorted(entries, key=lambda e: e.school_id != w.school.id)
    assert batch.object_type == "crisis_batch" and batch.detail == {"step": "open", "crises": 2}
    # One crisis in a school: the entry opening it alone records.
    other = next(c for c in crises if c.student_id == o[0].id)
    assert single.object_type == "crisis" and single.object_id == str(other.id)
    assert single.student_id == o[0].id and single.detail == {"step": "open"}
