"""The plan's items on the growth-record timeline: a version saved, a sign-off decision (a
return shows its reason), a goal's status or progress changed between consecutive versions;
the record's plan section. Who sees them is in tests/students/test_timeline.py's table."""

from __future__ import annotations

from wellbeing.plans import services

from ..conftest import login
from .conftest import complete_body


def _write(session, w, student):  # type: ignore[no-untyped-def]
    plan = services.start_plan(session, w.psych, student.id)
    services.save_draft(session, w.psych, plan.id, complete_body())
    services.save_version(session, w.psych, plan.id)
    return plan


def test_versions_decisions_and_goal_changes_on_the_timeline(client, db_session, plans_world):
    w = plans_world
    plan = _write(db_session, w, w.orange)
    services.return_version(db_session, w.leader, plan.id, 1, "目标需要更具体")
    services.save_version(db_session, w.psych, plan.id)
    services.sign(db_session, w.leader, plan.id, 2)
    services.start_review(db_session, w.psych, plan.id)
    body = complete_body()
    body["goals"][0]["achievement"] = "improving"
    body["goals"][0]["lifecycle"] = "completed"
    services.save_draft(db_session, w.psych, plan.id, body)
    services.save_version(db_session, w.psych, plan.id)
    db_session.commit()
    login(client, w.users["school_leader"])
    html = client.get(f"/students/{w.orange.id}/timeline").get_data(as_text=True)
    assert html.count('data-kind="plan_version"') == 3
    assert html.count('data-kind="plan_signoff"') == 2
    assert "目标需要更具体" in html  # the return's reason
    assert html.count('data-kind="plan_goal"') == 1
    assert "In progress → Improving" in html and "Being worked on → Completed" in html
    only = client.get(f"/students/{w.orange.id}/timeline?kinds=plan_goal").get_data(as_text=True)
    assert 'data-kind="plan_version"' not in only and 'data-kind="plan_goal"' in only


def test_record_section_by_role(client, db_session, plans_world):
    w = plans_world
    _write(db_session, w, w.orange)
    db_session.commit()
    login(client, w.users["school_leader"])
    html = client.get(f"/students/{w.orange.id}").get_data(as_text=True)
    assert 'data-testid="record-plan"' in html and "Waiting for sign-off" in html
    login(client, w.users["psych_teacher"])
    html = client.get(f"/students/{w.yellow.id}").get_data(as_text=True)
    assert "No plan yet." in html and f"/students/{w.yellow.id}/plan" in html
    login(client, w.users["school_leader"])
    html = client.get(f"/students/{w.yellow.id}").get_data(as_text=True)
    assert "No plan yet." in html and "Start a plan" not in html
