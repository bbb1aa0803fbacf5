"""The plan's life through its services: start, draft, completeness, versions, sign-off and
return, review, close and cancel; encryption, the audit of every write and read, and who may
see the draft."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden
from wellbeing.core.states import IllegalTransition
from wellbeing.plans import queries, services
from wellbeing.plans.models import PlanState, PlanTask, PlanVersion, TaskState

from .conftest import NOW, TODAY, complete_body, safety_crisis


def write(db, w, student, body, author=None):  # type: ignore[no-untyped-def]
    author = author or w.psych
    plan = services.start_plan(db, author, student.id, now=NOW)
    services.save_draft(db, author, plan.id, body, now=NOW)
    return plan, services.save_version(db, author, plan.id, now=NOW)


def test_an_orange_plan_is_submitted_signed_and_takes_effect(
    db_session, plans_world, audit_entries
):
    w = plans_world
    body = complete_body(teacher_id=w.users["class_teacher"].id)
    plan, v1 = write(db_session, w, w.orange, body)
    assert plan.state == PlanState.SUBMITTED and plan.effective_version is None
    assert (v1.number, v1.material, v1.signoff_required, v1.tier) == (1, True, True, 2)
    assert v1.review_due == TODAY + dt.timedelta(days=30) and plan.draft is None
    assert w.users["psych_teacher"].id.hex in v1.writers
    assert db_session.scalars(select(PlanTask).where(PlanTask.plan_id == plan.id)).all() == []
    row = services.sign(db_session, w.leader, plan.id, 1, now=NOW)
    assert (row.decision, row.role, row.by_id) == (
        "signed",
        "school_leader",
        w.users["school_leader"].id,
    )
    assert plan.state == PlanState.ACTIVE and plan.effective_version == 1
    assert plan.review_due == v1.review_due
    tasks = {
        t.key: t for t in db_session.scalars(select(PlanTask).where(PlanTask.plan_id == plan.id))
    }
    assert (
        tasks["t-seat"].assignee_id == w.users["class_teacher"].id
        and tasks["t-seat"].external is None
    )
    assert tasks["t-call"].assignee_id is None and tasks["t-call"].external == "妈妈"
    assert {t.state for t in tasks.values()} == {TaskState.OPEN}
    raw = db_session.execute(
        select(PlanVersion.__table__.c.body_ct).where(PlanVersion.__table__.c.id == v1.id)
    ).scalar()
    assert "睡眠".encode() not in bytes(raw)
    entries = audit_entries()
    actions = [e.action for e in entries]
    assert AuditAction.PLAN_WRITE in actions and AuditAction.PLAN_SIGNOFF in actions
    assert all("睡眠" not in str(e.detail) for e in entries)


def test_a_yellow_plan_needs_no_sign_off(db_session, plans_world):
    w = plans_world
    plan, v1 = write(db_session, w, w.yellow, complete_body())
    assert not v1.signoff_required and v1.material
    assert plan.state == PlanState.ACTIVE and plan.effective_version == 1
    assert plan.review_due == TODAY + dt.timedelta(days=90)


def test_completeness_every_concern_has_a_live_goal(db_session, plans_world):
    w = plans_world
    plan = services.start_plan(db_session, w.psych, w.orange.id, now=NOW)
    body = complete_body()
    body["concerns"].append({"id": "c2", "text": "同学关系"})
    services.save_draft(db_session, w.psych, plan.id, body)
    with pytest.raises(services.PlanError) as caught:
        services.save_version(db_session, w.psych, plan.id, now=NOW)
    assert "a goal for concern 2" in caught.value.message and "同学关系" not in caught.value.message
    body["goals"].append(
        {"id": "g2", "text": "交朋友", "concern_ids": ["c2"], "lifecycle": "cancelled"}
    )
    services.save_draft(db_session, w.psych, plan.id, body)
    with pytest.raises(services.PlanError):
        services.save_version(db_session, w.psych, plan.id, now=NOW)
    body["goals"][1]["lifecycle"] = "proposed"
    services.save_draft(db_session, w.psych, plan.id, body)
    assert services.save_version(db_session, w.psych, plan.id, now=NOW).number == 1
    other = services.start_plan(db_session, w.psych, w.yellow.id, now=NOW)
    services.save_draft(db_session, w.psych, other.id, {"summary": "只有概述"})
    with pytest.raises(services.PlanError, match="at least one goal"):
        services.save_version(db_session, w.psych, other.id, now=NOW)


def test_a_red_plan_links_a_done_safety_plan(db_session, plans_world):
    w = plans_world
    plan = services.start_plan(db_session, w.psych, w.red.id, now=NOW)
    services.save_draft(db_session, w.psych, plan.id, complete_body())
    with pytest.raises(services.PlanError, match="safety step"):
        services.save_version(db_session, w.psych, plan.id, now=NOW)
    crisis = safety_crisis(db_session, w, w.red, done=False)
    services.save_draft(db_session, w.psych, plan.id, complete_body(safety_crisis_id=crisis.id))
    with pytest.raises(services.PlanError, match="safety step"):
        services.save_version(db_session, w.psych, plan.id, now=NOW)
    elsewhere = safety_crisis(db_session, w, w.orange)
    services.save_draft(db_session, w.psych, plan.id, complete_body(safety_crisis_id=elsewhere.id))
    with pytest.raises(services.PlanError, match="this student's crisis"):
        services.save_version(db_session, w.psych, plan.id, now=NOW)
    crisis = safety_crisis(db_session, w, w.red)  # the safety plan step is done now
    services.save_draft(db_session, w.psych, plan.id, complete_body(safety_crisis_id=crisis.id))
    ver = services.save_version(db_session, w.psych, plan.id, now=NOW)
    assert ver.safety_crisis_id == crisis.id and ver.signoff_required
    assert ver.review_due == TODAY + dt.timedelta(days=7)


def test_a_red_students_new_plan_links_the_crisis_itself(db_session, plans_world):
    w = plans_world
    crisis = safety_crisis(db_session, w, w.red)
    plan = services.start_plan(db_session, w.psych, w.red.id, now=NOW)
    assert plan.draft["safety_crisis_id"] == crisis.id.hex


def test_staff_adults_are_users_of_the_school(db_session, plans_world):
    w = plans_world
    plan = services.start_plan(db_session, w.psych, w.orange.id, now=NOW)
    with pytest.raises(services.PlanError, match="not a user of the student's school"):
        services.save_draft(db_session, w.psych, plan.id,
                            complete_body(teacher_id=w.users["other_school_psych"].id))  # fmt: skip


def test_the_review_date_may_be_chosen_within_the_tiers_interval(db_session, plans_world):
    w = plans_world
    plan = services.start_plan(db_session, w.psych, w.orange.id, now=NOW)
    body = complete_body()
    body["review_due"] = (TODAY + dt.timedelta(days=31)).isoformat()
    services.save_draft(db_session, w.psych, plan.id, body)
    with pytest.raises(services.PlanError, match="Next review"):
        services.save_version(db_session, w.psych, plan.id, now=NOW)
    body["review_due"] = (TODAY + dt.timedelta(days=14)).isoformat()
    services.save_draft(db_session, w.psych, plan.id, body)
    assert services.save_version(
        db_session, w.psych, plan.id, now=NOW
    ).review_due == TODAY + dt.timedelta(days=14)


def test_the_draft_is_for_plan_writers_only(db_session, plans_world, audit_entries):
    w = plans_world
    plan = services.start_plan(db_session, w.psych, w.orange.id, now=NOW)
    services.save_draft(db_session, w.psych, plan.id, complete_body())
    for who in (w.leader, w.class_teacher, w.p["other_school_psych"]):
        with pytest.raises(Forbidden):
            services.read_draft(db_session, who, plan.id)
        with pytest.raises(Forbidden):
            services.save_draft(db_session, who, plan.id, complete_body())
    assert services.read_draft(db_session, w.p["other_psych"], plan.id)["summary"]
    assert services.read_draft(db_session, w.counsellor, plan.id)["goals"]
    with pytest.raises(Forbidden):
        services.read_plan(db_session, w.class_teacher, plan.id)
    services.read_plan(db_session, w.leader, plan.id)
    views = audit_entries(AuditAction.PLAN_VIEW)
    assert [e.fields for e in views] == [["draft"], ["draft"], ["state", "versions"]]


def test_return_sends_it_back_and_keeps_the_version_readable(
    db_session, plans_world, audit_entries
):
    w = plans_world
    plan, v1 = write(db_session, w, w.orange, complete_body())
    with pytest.raises(services.PlanError):
        services.return_version(db_session, w.counsellor, plan.id, 1, "  ")
    row = services.return_version(db_session, w.counsellor, plan.id, 1, "目标太笼统")
    assert row.decision == "returned" and row.reason == "目标太笼统" and row.role == "counsellor"
    assert plan.state == PlanState.DRAFT and plan.draft["goals"] == v1.body["goals"]
    assert services.read_version(db_session, w.leader, plan.id, 1).body == v1.body
    with pytest.raises(services.PlanError):
        services.sign(db_session, w.leader, plan.id, 1)  # returned: not waiting any more
    body = complete_body()
    body["goals"][0]["measure"] = "每周睡眠日记，七天中五天达标"
    services.save_draft(db_session, w.p["other_psych"], plan.id, body)
    v2 = services.save_version(db_session, w.p["other_psych"], plan.id, now=NOW)
    assert v2.number == 2 and plan.state == PlanState.SUBMITTED
    assert {w.users["psych_teacher"].id.hex, w.users["other_psych"].id.hex} <= set(v2.writers)
    services.sign(db_session, w.leader, plan.id, 2)
    assert [s.decision for s in queries.signoffs(db_session, plan.id)] == ["returned", "signed"]
    assert [v.number for v in queries.versions(db_session, plan.id)] == [1, 2]
    [entry] = [
        e for e in audit_entries(AuditAction.PLAN_SIGNOFF) if e.detail["decision"] == "returned"
    ]
    assert entry.fields == ["reason"] and "笼统" not in str(entry.detail)


def test_review_a_typo_takes_effect_a_material_change_waits(db_session, plans_world):
    w = plans_world
    plan, _v1 = write(db_session, w, w.orange, complete_body())
    services.sign(db_session, w.leader, plan.id, 1)
    services.start_review(db_session, w.psych, plan.id, now=NOW)
    assert plan.state == PlanState.REVIEW and plan.effective_version == 1
    body = services.read_draft(db_session, w.psych, plan.id)
    body["summary"] = "近一个月情绪低落（更正）"
    body["goals"][0]["achievement"] = "improving"
    services.save_draft(db_session, w.psych, plan.id, body)
    v2 = services.save_version(db_session, w.psych, plan.id, now=NOW)
    assert (v2.material, v2.signoff_required) == (False, False)
    assert plan.state == PlanState.ACTIVE and plan.effective_version == 2
    services.start_plan(db_session, w.psych, w.orange.id, now=NOW)  # in effect: starts a review
    assert plan.state == PlanState.REVIEW
    body["interventions"][0]["frequency"] = "每两周"
    services.save_draft(db_session, w.psych, plan.id, body)
    v3 = services.save_version(db_session, w.psych, plan.id, now=NOW)
    assert (v3.material, v3.signoff_required) == (True, True)
    assert plan.state == PlanState.SUBMITTED and plan.effective_version == 2
    services.return_version(db_session, w.leader, plan.id, 3, "再想想")
    assert plan.state == PlanState.REVIEW and plan.effective_version == 2
    changes = services.compare_versions(db_session, w.leader, plan.id, 2, 3)
    assert [c.field for c in changes] == ["interventions.frequency"]


def test_close_and_cancel(db_session, plans_world):
    w = plans_world
    plan, _ = write(db_session, w, w.yellow, complete_body(teacher_id=w.users["class_teacher"].id))
    with pytest.raises(services.PlanError):
        services.close_plan(db_session, w.psych, plan.id, "")
    with pytest.raises(IllegalTransition):
        services.cancel_plan(db_session, w.psych, plan.id, "不需要")
    services.close_plan(db_session, w.psych, plan.id, "目标达成", now=NOW)
    assert (
        plan.state == PlanState.CLOSED and plan.close_reason == "目标达成" and plan.closed_at == NOW
    )
    states = {
        t.state for t in db_session.scalars(select(PlanTask).where(PlanTask.plan_id == plan.id))
    }
    assert states == {TaskState.CANCELLED}
    assert queries.open_plan(db_session, w.yellow.id) is None
    second = services.start_plan(db_session, w.psych, w.yellow.id, now=NOW)
    assert second.id != plan.id and second.state == PlanState.DRAFT
    services.cancel_plan(db_session, w.psych, second.id, "不需要")
    assert second.state == PlanState.CANCELLED


def test_a_submitted_plan_cannot_be_restarted_and_unknown_ids_are_not_found(
    db_session, plans_world
):
    w = plans_world
    plan, _ = write(db_session, w, w.orange, complete_body())
    with pytest.raises(services.PlanError):
        services.start_plan(db_session, w.psych, w.orange.id)
    with pytest.raises(services.PlanError):
        services.save_draft(db_session, w.psych, plan.id, complete_body())
    with pytest.raises(services.NotFound):
        services.read_plan(db_session, w.psych, uuid.uuid4())
    with pytest.raises(services.NotFound):
        services.read_version(db_session, w.psych, plan.id, 9)


def test_only_a_plan_in_effect_can_be_reviewed(db_session, plans_world):
    w = plans_world
    plan, _ = write(db_session, w, w.orange, complete_body())  # submitted
    with pytest.raises(services.PlanError):
        services.start_review(db_session, w.psych, plan.id)
    assert plan.state == PlanState.SUBMITTED


def test_a_new_draft_lists_the_open_concerns_and_a_review_starts_from_the_plan_in_effect(
    db_session, plans_world
):
    from wellbeing.concerns.models import Concern, ConcernState

    w = plans_world
    rows = []
    for text, state in (("上课哭泣", ConcernState.NEW), ("已处理的", ConcernState.ACTED)):
        concern = Concern(school_id=w.school.id, student_id=w.yellow.id, urgency="routine",
                          reporter_id=w.users["class_teacher"].id, state=state)  # fmt: skip
        concern.category, concern.text = "mood", text
        rows.append(concern)
    db_session.add_all(rows)
    db_session.flush()
    plan = services.start_plan(db_session, w.psych, w.yellow.id, now=NOW)
    [listed] = plan.draft["concerns"]
    assert listed["text"] == "上课哭泣" and listed["concern_id"] == rows[0].id.hex
    body = complete_body()
    body["concerns"].append(listed)
    body["goals"][0]["concern_ids"] = ["c1", listed["id"]]
    services.save_draft(db_session, w.psych, plan.id, body)
    ver = services.save_version(db_session, w.psych, plan.id, now=NOW)
    assert plan.state == PlanState.ACTIVE
    services.start_review(db_session, w.psych, plan.id, now=NOW)
    draft = services.read_draft(db_session, w.psych, plan.id)
    assert draft["goals"] == ver.body["goals"] and len(draft["concerns"]) == 2  # not listed twice
