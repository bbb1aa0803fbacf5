"""GET /api/v1/followups: the owner's agenda (overdue, today, the next 7 days), least data
(no names, outcomes or notes; a student id only with case access), audited."""

from __future__ import annotations

import datetime as dt

import pytest

from wellbeing.core.audit import AuditAction
from wellbeing.db import utcnow
from wellbeing.followups.services import complete_followup, overdue_scan, schedule_followup

from ..api.helpers import bearer, schema_errors, token_prefix, utc
from .helpers import principal, school_world

FIELDS = {"id", "student_id", "school_code", "due_at", "state", "source"}


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    school, staff, student = school_world(db_session, env.settings)
    owner = staff["psych_teacher"]
    now = utcnow()

    def plan(hours: float, who=owner):  # type: ignore[no-untyped-def]
        return schedule_followup(db_session, None, student, due_at=now + dt.timedelta(hours=hours),
                                 owner_id=who.id, source="manual")  # fmt: skip

    rows = {
        "overdue": plan(-30), "late": plan(-1), "soon": plan(3), "week": plan(24 * 5),
        "later": plan(24 * 20), "done": plan(5), "theirs": plan(4, staff["school_leader"]),
    }  # fmt: skip
    db_session.flush()
    overdue_scan(db_session, now)  # the scan marks what is past due (and has no grace)
    complete_followup(db_session, principal(db_session, owner), rows["done"], outcome="seen",
                      note="Talked about the exam; calmer now.")  # fmt: skip
    db_session.flush()
    return {"school": school, "owner": owner, "student": student, "rows": rows,
            "headers": bearer(db_session, owner, "followups:read")}  # fmt: skip


def _ids(client, world, query="", headers=None):  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/followups{query}", headers=headers or world["headers"])
    assert response.status_code == 200, response.get_json()
    return [f["id"] for f in response.get_json()["followups"]]


def test_agenda_window_and_least_data(client, world):  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/followups", headers=world["headers"])
    body = response.get_json()
    rows = world["rows"]
    assert [f["id"] for f in body["followups"]] == [
        str(rows[k].id) for k in ("overdue", "late", "soon", "week")
    ]
    assert body["truncated"] is False and schema_errors("FollowUpList", body) == []
    first = body["followups"][0]
    assert set(first) == FIELDS
    assert (first["school_code"], first["source"]) == (world["school"].code, "manual")
    assert utc(first["due_at"]) == rows["overdue"].due_at
    assert {f["student_id"] for f in body["followups"]} == {None}  # no students:read
    text = response.get_data(as_text=True)
    assert world["student"].name not in text and "exam" not in text and "seen" not in text


def test_state_filter(client, world):  # type: ignore[no-untyped-def]
    states = {
        f["id"]: f["state"]
        for f in client.get("/api/v1/followups", headers=world["headers"]).get_json()["followups"]
    }
    overdue = [i for i, s in states.items() if s == "overdue"]
    opened = [i for i, s in states.items() if s == "open"]
    assert overdue and opened
    assert _ids(client, world, "?state=overdue") == overdue
    assert _ids(client, world, "?state=open") == opened
    assert _ids(client, world, "?state=active") == list(states)
    response = client.get("/api/v1/followups?state=done", headers=world["headers"])
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_request"


def test_student_ids_need_case_access_and_are_audited(client, db_session, world, audit_entries):  # type: ignore[no-untyped-def]
    _ids(client, world)
    [plain] = audit_entries(AuditAction.FOLLOWUP_VIEW)
    assert plain.detail == {"students": [], "count": 4} and plain.fields == []
    assert plain.session_hash == token_prefix(world["headers"])
    assert plain.actor_user_id == world["owner"].id
    headers = bearer(db_session, world["owner"], "followups:read", "students:read")
    body = client.get("/api/v1/followups", headers=headers).get_json()
    assert {f["student_id"] for f in body["followups"]} == {str(world["student"].id)}
    named = audit_entries(AuditAction.FOLLOWUP_VIEW)[-1]
    assert named.detail["students"] == [str(world["student"].id)]
    assert named.fields == ["student_id"]


def test_only_the_owners_agenda(client, db_session, env, world):  # type: ignore[no-untyped-def]
    assert str(world["rows"]["theirs"].id) not in _ids(client, world)
    _school, staff, _student = school_world(db_session, env.settings)
    stranger = bearer(db_session, staff["psych_teacher"], "followups:read")
    assert _ids(client, world, headers=stranger) == []
