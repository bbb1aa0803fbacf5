"""Comparing two versions: by field, list items matched by id, values human-readable."""

from __future__ import annotations

import copy

from flask_babel import force_locale

from wellbeing.plans.body import validate
from wellbeing.plans.diff import compare

from .conftest import complete_body


def _by_field(changes):  # type: ignore[no-untyped-def]
    return {(c.field, c.kind): c for c in changes}


def test_identical_bodies_have_no_changes():
    body = validate(complete_body())
    assert compare(body, copy.deepcopy(body)) == []


def test_scalars_items_and_sub_fields(app):
    old = validate(complete_body())
    new = copy.deepcopy(old)
    new["summary"] = "新的概述"
    new["student_agreed"] = False
    new["goals"][0]["lifecycle"] = "completed"
    new["goals"][0]["achievement"] = "achieved"
    new["goals"].append({"id": "g2", "text": "交一个朋友", "measure": "", "target_date": None,
                         "lifecycle": "proposed", "achievement": "in_progress",
                         "concern_ids": ["c1"]})  # fmt: skip
    new["interventions"] = []
    new["adults"][0]["tasks"][0]["due"] = "2026-03-20"
    new["adults"][0]["tasks"].append({"id": "t2", "title": "参加家长会", "due": "2026-03-21"})
    with app.test_request_context():
        changes = _by_field(compare(old, new))
        assert changes[("summary", "changed")].after == "新的概述"
        assert changes[("student_agreed", "changed")].before == "Yes"
        assert changes[("student_agreed", "changed")].after == "No"
        lifecycle = changes[("goals.lifecycle", "changed")]
        assert (lifecycle.before, lifecycle.after) == ("Being worked on", "Completed")
        assert lifecycle.item == "每晚睡够七小时" and str(lifecycle.label) == "Status"
        assert changes[("goals.achievement", "changed")].after == "Achieved"
        added = changes[("goals", "added")]
        assert added.item == "交一个朋友" and added.before is None
        removed = changes[("interventions", "removed")]
        assert removed.before == "Individual counselling" and removed.after is None
        assert changes[("adults.tasks.due", "changed")].after == "2026-03-20"
        assert changes[("adults.tasks", "added")].item == "参加家长会"
        assert str(changes[("goals", "added")].label) == "Goals"
        assert len(compare(old, new)) == 8


def test_linked_concerns_show_their_text_and_none_is_an_empty_plan(app):
    body = validate(complete_body())
    with app.test_request_context():
        changes = compare(None, body)
    assert {c.kind for c in changes} == {"added"}
    other = copy.deepcopy(body)
    other["concerns"].append({"id": "c2", "text": "同学关系紧张", "concern_id": None})
    other["goals"][0]["concern_ids"] = ["c1", "c2"]
    with app.test_request_context(), force_locale("zh_CN"):
        [link] = [c for c in compare(body, other) if c.field == "goals.concern_ids"]
    # listed the reader's way (babel's list pattern): 和 in Chinese, never "; "
    assert (link.before, link.after) == ("考试焦虑，睡眠差", "考试焦虑，睡眠差和同学关系紧张")
