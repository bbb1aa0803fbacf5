"""Tier decisions, step-down approval, policy versions and special care (services)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from wellbeing.auth.services import build_principal
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden, Role
from wellbeing.risk.events import TIER_CHANGED, TierChanged
from wellbeing.risk.models import APPLIED, PENDING, REJECTED, WITHDRAWN, TierDecision
from wellbeing.risk.policy import PolicyError, current_policy, default_body
from wellbeing.risk.services import (
    TierError,
    apply_rule_tiers,
    apply_tier,
    approve_stepdown,
    get_special_care,
    has_special_care,
    reject_stepdown,
    replay,
    save_policy,
    set_special_care,
    special_care_marker,
    tier_history,
)
from wellbeing.students.models import Student

from ..factories import make_school, make_student, make_user, staff_set


@pytest.fixture
def world(db_session, env):
    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    principals = {role: build_principal(db_session, user) for role, user in users.items()}
    student = make_student(db_session, school)
    return {"school": school, "users": users, "p": principals, "student": student}


@pytest.fixture
def captured():
    seen: list[tuple] = []

    def handler(session, change: TierChanged) -> None:
        decision = session.get(TierDecision, change.decision_id)
        seen.append((change.student_id, change.from_tier, change.to_tier, decision))

    TIER_CHANGED.subscribe(handler)
    yield seen
    TIER_CHANGED.unsubscribe(handler)


def test_rule_raises_and_never_lowers(db_session, world, captured, audit_entries):
    student = world["student"]
    decision = apply_tier(
        db_session, None, student, 2, source="screening", reason="phq9.total>=15", provisional=True
    )
    assert decision is not None and decision.from_tier == 0 and decision.to_tier == 2
    assert student.tier == 2 and student.tier_provisional is True
    assert decision.reason == "phq9.total>=15" and decision.decided_by is None
    assert student.district_involved is True  # orange involves the district by default
    assert captured == [(student.id, 0, 2, decision)]
    assert apply_tier(db_session, None, student, 1, source="screening") is None
    assert apply_tier(db_session, None, student, 2, source="screening") is None
    assert student.tier == 2
    entries = audit_entries(AuditAction.TIER_CHANGE)
    assert len(entries) == 1 and entries[0].student_id == student.id
    assert "phq9" not in str(entries[0].detail)


def test_yellow_does_not_involve_district(db_session, world):
    student = world["student"]
    apply_tier(db_session, None, student, 1, source="concern")
    assert student.tier == 1 and student.district_involved is False


def test_person_needs_reason_and_permission(db_session, world):
    student, p = world["student"], world["p"]
    with pytest.raises(TierError, match="reason"):
        apply_tier(db_session, p["psych_teacher"], student, 2, source="manual", reason="  ")
    with pytest.raises(Forbidden):
        apply_tier(
            db_session, p["class_teacher"], student, 2, source="manual", reason="seen crying"
        )
    with pytest.raises(Forbidden):
        apply_tier(db_session, p["school_leader"], student, 1, source="manual", reason="x")
    d = apply_tier(
        db_session, p["psych_teacher"], student, 2, source="manual", reason="talked today"
    )
    assert d.decided_by == world["users"]["psych_teacher"].id and student.tier == 2
    assert student.tier_provisional is False
    # lowering (not from red) applies directly for a person
    d2 = apply_tier(db_session, p["psych_teacher"], student, 1, source="manual", reason="better")
    assert d2.state == APPLIED and student.tier == 1


def test_concern_raise_by_reporter_without_reason(db_session, world, captured):
    """A module's own act (a class teacher's urgent concern) raises without TIER_DECIDE."""
    student = world["student"]
    d = apply_tier(db_session, world["p"]["class_teacher"], student, 3, source="concern")
    assert d.reason == "concern" and student.tier == 3
    assert captured[-1][1:3] == (0, 3)


def test_confirm_provisional(db_session, world, captured, audit_entries):
    student, p = world["student"], world["p"]
    apply_tier(
        db_session, None, student, 3, source="screening", provisional=True, reason="phq9.item9>=1"
    )
    n = len(captured)
    d = apply_tier(
        db_session, p["psych_teacher"], student, 3, source="manual", reason="assessed: plan"
    )
    assert d.kind == "confirm" and d.from_tier == d.to_tier == 3
    assert student.tier_provisional is False
    assert len(captured) == n  # the level did not change: no event
    confirm = audit_entries(AuditAction.TIER_CONFIRM)
    assert len(confirm) == 1 and confirm[0].student_id == student.id


def test_stepdown_from_red_needs_second_person(db_session, world, captured):
    student, p = world["student"], world["p"]
    apply_tier(db_session, None, student, 3, source="screening", provisional=True)
    pending = apply_tier(
        db_session, p["psych_teacher"], student, 1, source="manual", reason="safe now"
    )
    assert pending.state == PENDING and student.tier == 3
    with pytest.raises(TierError, match="already waiting"):
        apply_tier(db_session, p["counsellor"], student, 2, source="manual", reason="also")
    # requester cannot approve (lacks permission anyway); a counsellor requesting can't self-approve
    with pytest.raises(Forbidden):
        approve_stepdown(db_session, p["psych_teacher"], pending)
    with pytest.raises(Forbidden):
        approve_stepdown(db_session, p["class_teacher"], pending)
    n = len(captured)
    approved = approve_stepdown(db_session, p["school_leader"], pending.id)
    assert approved.state == APPLIED and approved.approved_by == world["users"]["school_leader"].id
    assert student.tier == 1 and captured[n][1:3] == (3, 1)
    with pytest.raises(TierError):
        approve_stepdown(db_session, p["counsellor"], pending)
    assert replay(tier_history(db_session, student.id)) == (1, False)


def test_counsellor_cannot_approve_own_request(db_session, world):
    student, p = world["student"], world["p"]
    apply_tier(db_session, None, student, 3, source="concern")
    pending = apply_tier(
        db_session, p["counsellor"], student, 2, source="manual", reason="assessed"
    )
    with pytest.raises(TierError, match="second person"):
        approve_stepdown(db_session, p["counsellor"], pending)
    withdrawn = reject_stepdown(db_session, p["counsellor"], pending)
    assert withdrawn.state == WITHDRAWN and student.tier == 3


def test_reject_stepdown(db_session, world):
    student, p = world["student"], world["p"]
    apply_tier(db_session, None, student, 3, source="concern")
    pending = apply_tier(db_session, p["psych_teacher"], student, 0, source="manual", reason="fine")
    rejected = reject_stepdown(db_session, p["school_leader"], pending)
    assert rejected.state == REJECTED and student.tier == 3
    # a new request is possible afterwards
    again = apply_tier(db_session, p["psych_teacher"], student, 2, source="manual", reason="steady")
    assert again.state == PENDING


def test_other_school_leader_cannot_approve(db_session, world, env):
    student, p = world["student"], world["p"]
    other = make_school(db_session)
    leader = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=other)
    apply_tier(db_session, None, student, 3, source="concern")
    pending = apply_tier(db_session, p["psych_teacher"], student, 1, source="manual", reason="ok")
    with pytest.raises(Forbidden):
        approve_stepdown(db_session, build_principal(db_session, leader), pending)


def test_bulk_rule_tiers(db_session, world, captured, audit_entries):
    school = world["school"]
    students = [make_student(db_session, school) for _ in range(6)]
    apply_tier(
        db_session, world["p"]["psych_teacher"], students[0], 2, source="manual", reason="known"
    )
    apply_tier(db_session, None, students[3], 3, source="concern")
    captured.clear()
    rows = [
        (students[0].id, 1, None, "phq9.total>=10"),  # lower than current: ignored
        (students[1].id, 1, None, "phq9.total>=10"),
        (students[1].id, 2, None, "phq9.total>=15"),  # the highest row per student wins
        (students[2].id, 3, None, "phq9.item9>=1"),
        (students[3].id, 3, None, "phq9.item9>=1"),  # already red
        (students[4].id, 0, None, None),
    ]
    changed = apply_rule_tiers(db_session, rows, source="screening")
    assert sorted(changed) == sorted([students[1].id, students[2].id])
    for s in students:
        db_session.refresh(s)
    assert [s.tier for s in students] == [2, 2, 3, 3, 0, 0]
    assert students[1].tier_provisional and students[2].district_involved
    assert sorted((c[0], c[1], c[2]) for c in captured) == sorted(
        [(students[1].id, 0, 2), (students[2].id, 0, 3)]
    )
    decision = db_session.scalar(
        select(TierDecision).where(TierDecision.student_id == students[2].id)
    )
    assert decision.reason == "phq9.item9>=1" and decision.provisional
    for s in students:
        hist = tier_history(db_session, s.id)
        assert replay(hist)[0] == s.tier
    batch = [e for e in audit_entries(AuditAction.TIER_CHANGE) if e.object_type == "tier_batch"]
    assert batch and batch[-1].detail["changed"] == 2


def test_bulk_updates_loaded_objects(db_session, world):
    student = world["student"]
    assert student.tier == 0
    apply_rule_tiers(db_session, [(student.id, 2, None, "x")])
    assert student.tier == 2  # expired and reloaded


def test_policy_versions(db_session, world, audit_entries):
    district_id = world["school"].district_id
    assert current_policy(db_session, district_id).version == 0
    body = default_body()
    body["tiers"][3]["first_response_hours"] = 2
    row = save_policy(db_session, world["p"]["admin"], district_id, body)
    assert row.version == 1
    policy = current_policy(db_session, district_id)
    assert policy.version == 1 and policy.first_response_hours[3] == 2
    assert policy.escalation[2][0] == ("school_leader", 1440)
    assert save_policy(db_session, None, district_id, default_body()).version == 2
    with pytest.raises(Forbidden):
        save_policy(db_session, world["p"]["psych_teacher"], district_id, default_body())
    bad = default_body()
    bad["tiers"][1]["escalation"][0]["after_minutes"] = -5
    with pytest.raises(PolicyError) as err:
        save_policy(db_session, None, district_id, bad)
    assert "tiers[1].escalation[0].after_minutes" in str(err.value)
    assert len(audit_entries(AuditAction.POLICY_CHANGE)) == 2


def test_policy_district_tiers_drive_involvement(db_session, world):
    body = default_body()
    body["district_tiers"] = [3]
    save_policy(db_session, None, world["school"].district_id, body)
    student = world["student"]
    apply_tier(db_session, None, student, 2, source="screening")
    assert student.district_involved is False
    apply_tier(db_session, None, student, 3, source="screening")
    assert student.district_involved is True


def test_special_care(db_session, world, audit_entries):
    student, p = world["student"], world["p"]
    assert not has_special_care(student)
    codes = set_special_care(
        db_session, p["psych_teacher"], student, ["bereavement", "left_behind"]
    )
    assert codes == ["left_behind", "bereavement"]  # policy order
    assert get_special_care(student) == codes and has_special_care(student)
    assert student.special_care_ct is not None and b"left_behind" not in student.special_care_ct
    marked = db_session.scalars(select(Student.id).where(special_care_marker)).all()
    assert student.id in marked
    with pytest.raises(TierError):
        set_special_care(db_session, p["psych_teacher"], student, ["nope"])
    with pytest.raises(Forbidden):
        set_special_care(db_session, p["school_leader"], student, [])
    set_special_care(db_session, p["psych_teacher"], student, [])
    assert student.special_care_ct is None and not has_special_care(student)
    entries = audit_entries(AuditAction.SPECIAL_CARE_CHANGE)
    assert [e.detail for e in entries] == [{"count": 2}, {"count": 0}]
