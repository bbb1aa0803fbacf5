"""The body of a plan: normalising, refusing with the field named, and what counts as a
material change (goals, interventions, responsible adults, the safety step; not the summary,
the student's view or a goal's achievement status)."""

from __future__ import annotations

import copy
import uuid

import pytest

from wellbeing.plans.body import (
    ADULT_ROLE_LABELS,
    GOAL_ACHIEVEMENT_LABELS,
    GOAL_LIFECYCLE_LABELS,
    INTERVENTION_LABELS,
    MAX_ITEMS,
    MAX_TEXT,
    PlanError,
    empty_body,
    material,
    validate,
)
from wellbeing.plans.models import ADULT_ROLES, GOAL_ACHIEVEMENT, GOAL_LIFECYCLE, INTERVENTION_KINDS

from .conftest import complete_body, safety_crisis


def test_the_fixture_world_has_what_other_tests_need(db_session, plans_world):
    w = plans_world
    assert (w.yellow.tier, w.orange.tier, w.red.tier) == (1, 2, 3)
    crisis = safety_crisis(db_session, w, w.red)
    assert crisis.student_id == w.red.id


def test_every_code_has_a_label():
    assert set(GOAL_LIFECYCLE_LABELS) == set(GOAL_LIFECYCLE)
    assert set(GOAL_ACHIEVEMENT_LABELS) == set(GOAL_ACHIEVEMENT)
    assert set(INTERVENTION_LABELS) == set(INTERVENTION_KINDS)
    assert set(ADULT_ROLE_LABELS) == set(ADULT_ROLES)


def test_validate_normalises_and_fills_ids():
    body = complete_body(teacher_id=uuid.uuid4())
    body["summary"] = "  空格  "
    body["goals"].append({"text": " 新目标 ", "concern_ids": ["c1"]})
    body["junk"] = "dropped"
    clean = validate(body)
    assert clean["summary"] == "空格" and "junk" not in clean
    new_goal = clean["goals"][1]
    assert len(new_goal["id"]) == 32 and new_goal["text"] == "新目标"
    assert (new_goal["lifecycle"], new_goal["achievement"]) == ("active", "in_progress")
    assert clean["adults"][1]["user_id"] == uuid.UUID(body["adults"][1]["user_id"]).hex
    assert validate(clean) == clean  # idempotent
    assert validate(None) == empty_body() == validate({})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.update(summary="x" * (MAX_TEXT + 1)), "Summary of concerns"),
        (lambda b: b["goals"][0].update(lifecycle="maybe"), "Status"),
        (lambda b: b["goals"][0].update(target_date="30/04/2026"), "Target date"),
        (lambda b: b["goals"][0].update(concern_ids=["nope"]), "Goals"),
        (lambda b: b["goals"][0].update(text="  "), "Goals"),
        (lambda b: b["interventions"][0].update(kind="magic"), "Kind"),
        (lambda b: b["adults"][0].update(role="uncle"), "Role"),
        (lambda b: b["adults"][0].update(user_id="not-a-uuid"), "Staff member"),
        (lambda b: b["adults"][0].update(user_id=uuid.uuid4().hex), "Responsible adults"),
        (lambda b: b["adults"][0]["tasks"][0].update(due=""), "Due"),
        (lambda b: b["adults"].append(copy.deepcopy(b["adults"][0]) | {"id": "a2"}), "Tasks"),
        (lambda b: b.update(goals=[{"text": "g"}] * (MAX_ITEMS + 1)), "Goals"),
        (lambda b: b.update(goals=b["goals"] * 2), "Goals"),
        (lambda b: b.update(student_agreed="yes"), "The student agreed to the plan"),
    ],
)
def test_validate_refuses_naming_the_field(change, field):
    body = complete_body()
    change(body)
    with pytest.raises(PlanError) as caught:
        validate(body)
    assert field in caught.value.message


def test_material_changes_are_goals_interventions_adults_and_the_safety_step():
    base = validate(complete_body())
    assert not material(base, copy.deepcopy(base))
    assert material(None, base)
    not_material = [
        lambda b: b.update(summary="改了一个错别字"),
        lambda b: b.update(protective_factors="", student_view="不同意", student_agreed=False),
        lambda b: b.update(guardian_involvement="爸爸也参与", review_due="2026-03-20"),
        lambda b: b["goals"][0].update(achievement="improving"),
        lambda b: b["concerns"][0].update(text="考试焦虑"),
    ]
    is_material = [
        lambda b: b["goals"][0].update(text="每晚睡够八小时"),
        lambda b: b["goals"][0].update(measure="手环"),
        lambda b: b["goals"][0].update(target_date="2026-05-30"),
        lambda b: b["goals"][0].update(lifecycle="completed"),
        lambda b: b["goals"].append({"id": "g2", "text": "新", "concern_ids": []}),
        lambda b: b["interventions"][0].update(frequency="每两周"),
        lambda b: b.update(interventions=[]),
        lambda b: b["adults"][0]["tasks"][0].update(due="2026-03-09"),
        lambda b: b["adults"][0].update(name="爸爸"),
        lambda b: b.update(safety_crisis_id=uuid.uuid4().hex),
    ]
    for change in not_material:
        other = copy.deepcopy(base)
        change(other)
        assert not material(base, validate(other)), other
    for change in is_material:
        other = copy.deepcopy(base)
        change(other)
        assert material(base, validate(other)), other
