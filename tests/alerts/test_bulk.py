"""Raising alerts in bulk (screening imports): the same alerts, steps, inbox and recipients as
one ``raise_alert`` per item, deduplicated the same way, with one digest email per recipient
and one audit entry per (school, kind)."""

from __future__ import annotations

import uuid

import pytest
import time_machine
from sqlalchemy import event, func, select

from wellbeing.alerts import bulk, services
from wellbeing.alerts.events import ALERT_RAISED
from wellbeing.alerts.models import Alert, AlertRecipient
from wellbeing.auth.services import build_principal
from wellbeing.core import events
from wellbeing.core.audit import AuditAction
from wellbeing.core.events import CRITICAL_RESPONSE, CriticalResponse
from wellbeing.notify.models import OutboxMessage
from wellbeing.risk.events import TIER_CHANGED

from ..core.bulk_world import NOW, alerts_snapshot, build_world, decide, per_item, rolled_back


@pytest.fixture
def world(db_session, env):
    return build_world(db_session, env.settings)


def _changes(w):
    s, o = w.students, w.others
    return [(s[0], 0, 3), (s[1], 1, 3), (s[2], 0, 2), (s[3], 3, 3), (o[0], 2, 3), (o[1], 0, 1)]


def _critical(student, response_id=None):
    return CriticalResponse(student.id, student.school_id, response_id or uuid.uuid4(), "phq9")


def _count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_red_tier_in_bulk_equals_raising_one_alert_per_decision(db_session, world):
    decisions = decide(db_session, _changes(world))
    with time_machine.travel(NOW, tick=False):
        with rolled_back(db_session):
            per_item(db_session, services._on_tier_changed, decisions)
            one_by_one = alerts_snapshot(db_session)
        bulk.on_tier_changed_many(db_session, decisions)
        in_bulk = alerts_snapshot(db_session)
    assert in_bulk == one_by_one
    # The two red students of the staffed school reach both psych teachers; the one of the
    # school without staff climbs past the empty rungs to the counsellor on duty.
    assert len(in_bulk) == 3
    [climbed] = [v for k, v in in_bulk.items() if k[1] == world.others[0].id]
    assert [s[:3] for s in climbed["steps"]] == [
        (0, "psych_teacher", "raise"), (1, "school_leader", "escalate"),
        (2, "counsellor", "escalate"),
    ]  # fmt: skip
    assert {u for u, *_ in climbed["inbox"]} == {str(world.staff["c_duty"].id)}


def test_critical_items_in_bulk_equal_one_alert_per_response(db_session, world):
    s = world.students
    items = [_critical(s[0]), _critical(s[1]), _critical(world.others[2])]
    items.append(_critical(s[0]))  # the same student again: absorbed by the first
    items.append(items[1])  # the same response twice
    with time_machine.travel(NOW, tick=False):
        with rolled_back(db_session):
            for item in items:
                services._on_critical_response(db_session, item)
            one_by_one = alerts_snapshot(db_session)
        bulk.on_critical_responses(db_session, items)
        in_bulk = alerts_snapshot(db_session)
    assert in_bulk == one_by_one and len(in_bulk) == 3


def test_existing_alerts_deduplicate_as_raise_alert_does(db_session, world):
    s, psych = world.students, world.staff["psych"]
    decisions = decide(db_session, [(st, 0, 3) for st in s])
    # s0: an unresolved red_tier alert for the same decision exists already.
    same = services.raise_alert(db_session, kind="red_tier", school_id=world.school.id,
                                student_id=s[0].id, source_id=decisions[0].decision_id, tier=3)  # fmt: skip
    # s1: an open crisis alert of another kind absorbs the red one.
    concern = services.raise_alert(db_session, kind="urgent_concern", school_id=world.school.id,
                                   student_id=s[1].id, source_id=uuid.uuid4(), tier=3)  # fmt: skip
    # s2: an acknowledged crisis alert does not; s3: a resolved one for the same decision neither.
    acked = services.raise_alert(db_session, kind="urgent_concern", school_id=world.school.id,
                                 student_id=s[2].id, source_id=uuid.uuid4(), tier=3)  # fmt: skip
    services.acknowledge(db_session, build_principal(db_session, psych), acked.id)
    old = services.raise_alert(db_session, kind="red_tier", school_id=world.school.id,
                               student_id=s[3].id, source_id=decisions[3].decision_id, tier=3)  # fmt: skip
    services.acknowledge(db_session, build_principal(db_session, psych), old.id)
    services.resolve(db_session, build_principal(db_session, psych), old.id, "Talked to them")
    before = {a.id for a in db_session.scalars(select(Alert))}
    bulk.on_tier_changed_many(db_session, decisions)
    new = [a for a in db_session.scalars(select(Alert)) if a.id not in before]
    assert sorted(a.student_id for a in new) == sorted([s[2].id, s[3].id])
    assert {same.state, concern.state} == {"open"}


def test_a_student_red_and_critical_in_one_import_gets_one_alert(db_session, world):
    s = world.students
    decisions = decide(db_session, [(s[0], 0, 3), (s[1], 0, 2)])
    with events.deferred() as pending:
        TIER_CHANGED.emit_many(db_session, decisions, lambda items: iter(()))
        CRITICAL_RESPONSE.emit_many(
            db_session, [_critical(s[0]), _critical(s[1])], lambda items: iter(())
        )
        pending.flush(db_session)
    kinds = {a.student_id: a.kind for a in db_session.scalars(select(Alert))}
    assert kinds == {s[0].id: "red_tier", s[1].id: "critical_item"}


def test_one_email_per_recipient_in_their_language_a_digest_for_several(db_session, world):
    s, staff = world.students, world.staff
    decisions = decide(db_session, [(s[0], 0, 3), (s[1], 0, 3), (world.others[0], 0, 3)])
    bulk.on_tier_changed_many(db_session, decisions)
    mails = {
        m.user_id: m for m in db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert"))
    }  # fmt: skip
    # psych2 has no address (inbox only); the counsellor on duty got the bare school's alert.
    assert set(mails) == {staff["psych"].id, staff["c_duty"].id}
    zh, district = mails[staff["psych"].id], mails[staff["c_duty"].id]
    assert zh.body.endswith("/alerts") and "2" in zh.body and "学生" in zh.body
    # One alert for the counsellor: that alert's own email, a link straight to it.
    bare = db_session.scalars(select(Alert).where(Alert.student_id == world.others[0].id)).one()
    assert (
        district.body
        == f"A student at a school of your district needs attention: http://127.0.0.1:5000/alerts/{bare.id}"
    )
    for mail in mails.values():
        assert not any(
            st.name in mail.body or st.name in mail.subject for st in [*s, *world.others]
        )
    email_rows = db_session.scalars(select(AlertRecipient).where(AlertRecipient.channel == "email")).all()  # fmt: skip
    assert len(email_rows) == 3
    assert {(r.user_id, r.outbox_id) for r in email_rows} == {(u, m.id) for u, m in mails.items()}


def test_digest_text_is_counts_and_a_link():
    subject, body = bulk.digest_text("en", 3)
    assert subject == "3 students need attention"
    assert body.startswith("3 students at your school need attention. Your alerts: http")
    assert body.endswith("/alerts")
    subject, body = bulk.digest_text("zh_CN", 1, district=True)
    assert "1" in subject and "关注" in subject and body.endswith("/alerts")


def test_one_audit_entry_per_school_and_kind(db_session, world, audit_entries):
    s, o = world.students, world.others
    decisions = decide(db_session, [(s[0], 0, 3), (s[1], 0, 3), (o[0], 0, 3)])
    bulk.on_tier_changed_many(db_session, decisions)
    bulk.on_critical_responses(db_session, [_critical(o[1])])
    entries = audit_entries(AuditAction.ALERT_CREATE)
    assert sorted((e.school_id == world.school.id, e.detail["kind"], e.object_type) for e in entries) == [
        (False, "critical_item", "alert"), (False, "red_tier", "alert"), (True, "red_tier", "alert_batch"),
    ]  # fmt: skip
    # A group of one alert: the entry raising it alone records, naming the alert and student.
    single = next(e for e in entries if e.detail["kind"] == "critical_item")
    alert = db_session.scalars(select(Alert).where(Alert.student_id == o[1].id)).one()
    assert single.object_id == str(alert.id) and single.student_id == o[1].id
    assert single.detail["step"] == "raise" and "alerts" not in single.detail
    staffed = next(e for e in entries if e.school_id == world.school.id)
    assert staffed.detail["alerts"] == 2
    assert staffed.object_type == "alert_batch" and staffed.student_id is None
    assert set(staffed.detail["steps"][0]["recipients"]) == {
        str(world.staff["psych"].id),
        str(world.staff["psych2"].id),
    }
    # The school without staff passes its empty rungs at once: for a single alert, one entry per
    # step, as raising it alone records; the batch of the staffed school climbed no rung.
    climbed = audit_entries(AuditAction.ALERT_ESCALATE)
    assert climbed and {e.school_id for e in climbed} == {world.bare.id}
    assert all(e.object_type == "alert" and e.student_id in {o[0].id, o[1].id} for e in climbed)


def test_alert_raised_is_emitted_per_alert_only_when_somebody_listens(db_session, world):
    s = world.students
    seen = []
    handler = ALERT_RAISED.subscribe(lambda session, raised: seen.append(raised.alert))
    try:
        bulk.on_tier_changed_many(db_session, decide(db_session, [(s[0], 0, 3), (s[1], 0, 3)]))
    finally:
        ALERT_RAISED.unsubscribe(handler)
    assert sorted(a.student_id for a in seen) == sorted([s[0].id, s[1].id])
    assert all(isinstance(a, Alert) for a in seen)


def test_statements_do_not_grow_with_the_number_of_alerts(db_session, env, world):
    from ..factories import make_student

    students = [make_student(db_session, world.school) for _ in range(60)]
    decisions = decide(db_session, [(st, 0, 3) for st in students])
    statements = []
    engine = db_session.get_bind().engine

    def count(*args):
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        bulk.on_tier_changed_many(db_session, decisions)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert _count(db_session, Alert) == 60
    assert len(statements) < 30, statements
