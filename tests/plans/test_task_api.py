"""The plans/tasks API: what it answers (checked against the OpenAPI schemas), least data, and
the audit of each read."""

from __future__ import annotations

import datetime as dt

from wellbeing.core.audit import AuditAction
from wellbeing.db import utcnow

from ..api.helpers import bearer, schema_errors
from .test_authz_plan_tasks import plan_in_effect


def _adults(world, due):  # type: ignore[no-untyped-def]
    return [
        {"user_id": world.users["class_teacher"].id.hex, "role": "class_teacher",
         "tasks": [{"title": "Weekly check-in", "due": due.isoformat()}]},
        {"name": "王女士", "role": "guardian",
         "tasks": [{"title": "Call back on Friday", "due": due.isoformat()}]},
    ]  # fmt: skip


def test_plan_in_effect_as_json_audited(client, db_session, plans_world, audit_entries):  # type: ignore[no-untyped-def]
    w = plans_world
    due = utcnow().date() + dt.timedelta(days=5)
    plan = plan_in_effect(db_session, w.psych, w.orange, _adults(w, due), summary="Sleeps badly",
                          signer=w.leader)  # fmt: skip
    headers = bearer(db_session, w.users["school_leader"], "plans:read")
    response = client.get(f"/api/v1/plans/{w.orange.id}", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert schema_errors("PlanInEffect", body) == []
    assert body["plan_id"] == str(plan.id) and body["version"] == 1
    assert body["body"]["summary"] == "Sleeps badly" and body["state"] == "active"
    [entry] = [e for e in audit_entries(AuditAction.PLAN_VIEW) if e.detail.get("via") == "api"]
    assert entry.student_id == w.orange.id and "summary" in entry.fields
    assert "Sleeps badly" not in str(entry.detail)
    # a student without a plan: 404, like one outside the scope
    assert client.get(f"/api/v1/plans/{w.yellow.id}", headers=headers).status_code == 404


def test_my_tasks_from_a_version_in_effect(client, db_session, plans_world, audit_entries):  # type: ignore[no-untyped-def]
    w = plans_world
    due = utcnow().date() + dt.timedelta(days=5)
    plan_in_effect(db_session, w.psych, w.orange, _adults(w, due), signer=w.leader)
    teacher = bearer(db_session, w.users["class_teacher"], "tasks:read")
    body = client.get("/api/v1/tasks", headers=teacher).get_json()
    assert schema_errors("PlanTaskList", body) == []
    [task] = body["tasks"]
    assert task["title"] == "Weekly check-in" and task["due_date"] == due.isoformat()
    assert task["student_id"] is None  # a class teacher may not open the record
    assert task["overdue"] is False and task["for_outside_person"] is False
    entry = audit_entries(AuditAction.TASK_VIEW)[-1]
    assert entry.detail["count"] == 1 and "task.title" in entry.fields
    # the trail names whose task left, even when the answer does not name the student
    assert entry.detail["students"] == [str(w.orange.id)] and "student_id" not in entry.fields
    # the guardian's task is tracked by the school's psychology teachers
    psych = bearer(db_session, w.users["other_psych"], "tasks:read", "students:read")
    tracked = client.get("/api/v1/tasks", headers=psych).get_json()["tasks"]
    assert [t["title"] for t in tracked] == ["Call back on Friday"]
    assert tracked[0]["for_outside_person"] is True
    assert tracked[0]["student_id"] == str(w.orange.id)  # they may open the record
    # a student's tasks, for those who read the plan
    reader = bearer(db_session, w.users["psych_teacher"], "plans:read")
    listed = client.get(f"/api/v1/students/{w.orange.id}/tasks", headers=reader).get_json()
    assert schema_errors("PlanTaskList", listed) == []
    assert sorted(t["title"] for t in listed["tasks"]) == ["Call back on Friday", "Weekly check-in"]
    outsider = bearer(db_session, w.users["other_school_psych"], "plans:read")
    refused = client.get(f"/api/v1/students/{w.orange.id}/tasks", headers=outsider)
    unknown = client.get(f"/api/v1/students/{w.school.id}/tasks", headers=outsider)
    assert refused.status_code == unknown.status_code == 404
    assert refused.get_json()["error"] == unknown.get_json()["error"]


def test_a_new_version_updates_and_cancels_tasks(client, db_session, plans_world):  # type: ignore[no-untyped-def]
    """The page lists what the version in effect asks: a task dropped from a later version is
    gone from the class teacher's list (sync_from_version cancels it)."""
    w = plans_world
    due = utcnow().date() + dt.timedelta(days=5)
    plan_in_effect(db_session, w.psych, w.yellow, _adults(w, due))
    teacher = bearer(db_session, w.users["class_teacher"], "tasks:read")
    assert len(client.get("/api/v1/tasks", headers=teacher).get_json()["tasks"]) == 1
    plan_in_effect(db_session, w.psych, w.yellow, [])  # the review drops the adults
    assert client.get("/api/v1/tasks", headers=teacher).get_json()["tasks"] == []
