"""GET /api/v1/alerts and /api/v1/alerts/<id>: the owner's inbox, least data (no names, no
notes; a student id only with case access), page-based, audited, read-only."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from wellbeing.alerts import queries, services
from wellbeing.auth.services import build_principal
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.db import utcnow

from ..api.helpers import bearer, schema_errors, token_prefix, utc
from ..factories import make_school, make_student, make_user

FIELDS = {"id", "kind", "state", "tier", "school_code", "student_id", "raised_at", "due_at",
          "rung", "acknowledged_at", "resolved_at"}  # fmt: skip


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    students = [make_student(db_session, school) for _ in range(3)]
    start = utcnow() - dt.timedelta(hours=3)
    alerts = [
        services.raise_alert(db_session, kind="red_tier", school_id=school.id, student_id=s.id,
                             tier=3, now=start + dt.timedelta(minutes=n))
        for n, s in enumerate(students)
    ]  # fmt: skip
    return {"school": school, "teacher": teacher, "students": students, "alerts": alerts,
            "headers": bearer(db_session, teacher, "alerts:read")}  # fmt: skip


def _get(client, url, headers):  # type: ignore[no-untyped-def]
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response


def test_inbox_lists_least_data_without_names(client, world):  # type: ignore[no-untyped-def]
    response = _get(client, "/api/v1/alerts", world["headers"])
    body = response.get_json()
    assert schema_errors("AlertPage", body) == []
    assert (body["page"], body["has_prev"], body["has_next"]) == (1, False, False)
    # Open alerts come by due time, the most urgent first.
    assert [a["id"] for a in body["alerts"]] == [str(a.id) for a in world["alerts"]]
    first = body["alerts"][0]
    assert set(first) == FIELDS
    assert (first["kind"], first["state"], first["tier"], first["rung"]) == (
        "red_tier",
        "open",
        3,
        0,
    )
    assert first["school_code"] == world["school"].code
    assert utc(first["raised_at"]) == world["alerts"][0].raised_at
    assert utc(first["due_at"]) == world["alerts"][0].due_at
    # alerts:read alone shows no student ids (the web shows no name without case access).
    assert {a["student_id"] for a in body["alerts"]} == {None}
    text = response.get_data(as_text=True)
    assert not any(s.name in text for s in world["students"])


def test_student_ids_need_case_access_too(client, db_session, world):  # type: ignore[no-untyped-def]
    headers = bearer(db_session, world["teacher"], "alerts:read", "students:read")
    body = _get(client, "/api/v1/alerts", headers).get_json()
    assert [a["student_id"] for a in body["alerts"]] == [str(s.id) for s in world["students"]]
    one = _get(client, f"/api/v1/alerts/{world['alerts'][0].id}", headers).get_json()
    assert one["student_id"] == str(world["students"][0].id)
    assert not any(s.name in str(body) for s in world["students"])


def test_state_filter_and_pages(client, db_session, world, monkeypatch):  # type: ignore[no-untyped-def]
    teacher = build_principal(db_session, world["teacher"])
    for alert in world["alerts"][1:]:
        services.acknowledge(db_session, teacher, alert.id)
    services.resolve(
        db_session, teacher, world["alerts"][2].id, "Met the student; guardian informed."
    )
    db_session.flush()

    def ids(query: str) -> list[str]:
        return [a["id"] for a in _get(client, f"/api/v1/alerts{query}", world["headers"]).get_json()["alerts"]]  # fmt: skip

    a = [str(alert.id) for alert in world["alerts"]]
    assert ids("") == ids("?state=open") == [a[0]]
    assert ids("?state=acknowledged") == [a[1]]
    assert ids("?state=resolved") == [a[2]]
    assert ids("?state=all") == [a[2], a[1], a[0]]  # newest first
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    first = _get(client, "/api/v1/alerts?state=all", world["headers"]).get_json()
    second = _get(client, "/api/v1/alerts?state=all&page=2", world["headers"]).get_json()
    assert [x["id"] for x in first["alerts"]] == [a[2], a[1]] and first["has_next"]
    assert [x["id"] for x in second["alerts"]] == [a[0]]
    assert second["has_prev"] and not second["has_next"] and second["page_size"] == 2
    resolved = next(x for x in first["alerts"] if x["id"] == a[2])
    assert resolved["resolved_at"] is not None
    assert "guardian" not in str(first)  # the resolution note never leaves


@pytest.mark.parametrize("query", ["?state=closed", "?page=0", "?page=x", "?page=-1"])
def test_bad_queries_are_400(client, world, query):  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/alerts{query}", headers=world["headers"])
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_request"


def test_listing_is_audited_with_the_token(client, world, audit_entries):  # type: ignore[no-untyped-def]
    _get(client, "/api/v1/alerts", world["headers"])
    [entry] = audit_entries(AuditAction.ALERT_LIST)
    assert entry.actor_user_id == world["teacher"].id
    assert entry.session_hash == token_prefix(world["headers"])
    assert entry.fields == []  # no student id was shown
    assert sorted(entry.detail["students"]) == sorted(str(s.id) for s in world["students"])


def test_one_alert_and_refusals(client, db_session, env, world, audit_entries):  # type: ignore[no-untyped-def]
    alert = world["alerts"][0]
    response = _get(client, f"/api/v1/alerts/{alert.id}", world["headers"])
    assert set(response.get_json()) == FIELDS
    assert schema_errors("Alert", response.get_json()) == []
    [viewed] = audit_entries(AuditAction.ALERT_VIEW)
    assert (viewed.object_id, viewed.student_id) == (str(alert.id), alert.student_id)
    assert viewed.session_hash == token_prefix(world["headers"])
    # A leader of the school may handle it on the web, but it is not in their inbox yet.
    leader = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=world["school"])
    leader_headers = bearer(db_session, leader, "alerts:read")
    hidden = client.get(f"/api/v1/alerts/{alert.id}", headers=leader_headers)
    unknown = client.get(f"/api/v1/alerts/{uuid.uuid4()}", headers=leader_headers)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.get_json() == unknown.get_json()
    [denied] = audit_entries(AuditAction.ACCESS_DENIED)
    assert denied.outcome == "denied" and denied.object_id == str(alert.id)
    assert denied.actor_user_id == leader.id


def test_alerts_are_read_only(client, db_session, world):  # type: ignore[no-untyped-def]
    alert = world["alerts"][0]
    for suffix in ("", "/acknowledge"):
        response = client.post(f"/api/v1/alerts/{alert.id}{suffix}", headers=world["headers"])
        assert response.status_code in (404, 405)
        assert response.get_json()["error"]["code"] in ("not_found", "method_not_allowed")
    db_session.expire_all()
    assert db_session.get(type(alert), alert.id).state == "open"


def test_other_users_alerts_are_not_listed(client, db_session, env, world):  # type: ignore[no-untyped-def]
    stranger = make_user(
        db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session)
    )
    body = _get(client, "/api/v1/alerts?state=all", bearer(db_session, stranger, "alerts:read"))
    assert body.get_json()["alerts"] == []
