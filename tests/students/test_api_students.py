"""GET /api/v1/students?number= and /api/v1/students/<id>: the web search's scope rules, least
data, audited like the web (the token's prefix in the trail), no existence oracle."""

from __future__ import annotations

import uuid

import pytest

from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.students.reading import API_FIELDS

from ..api.helpers import bearer, schema_errors, token_prefix
from ..factories import make_school, make_student, make_user

FIELDS = {"id", "school_code", "grade", "class_label", "tier", "tier_provisional", "status"}


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    own, other = make_school(db_session), make_school(db_session)
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=own)
    mine = make_student(db_session, own, student_number="2024-001", tier=2)
    # The same number in another school: numbers are unique per school only.
    theirs = make_student(db_session, other, student_number="2024-001")
    return {"own": own, "other": other, "teacher": teacher, "mine": mine, "theirs": theirs,
            "headers": bearer(db_session, teacher, "students:read")}  # fmt: skip


def _ids(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_json()
    return [s["id"] for s in response.get_json()["students"]]


def test_lookup_finds_only_students_in_scope_with_least_data(client, world, audit_entries):  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/students?number=2024-001", headers=world["headers"])
    body = response.get_json()
    assert _ids(response) == [str(world["mine"].id)] and body["truncated"] is False
    student = body["students"][0]
    assert set(student) == FIELDS
    assert (student["school_code"], student["grade"], student["tier"], student["status"]) == (
        world["own"].code, world["mine"].grade, 2, "active",
    )  # fmt: skip
    text = response.get_data(as_text=True)
    assert world["mine"].name not in text and "birth" not in text and "guardian" not in text
    assert schema_errors("StudentList", body) == []
    [entry] = audit_entries(AuditAction.STUDENT_SEARCH)
    assert entry.actor_user_id == world["teacher"].id
    assert entry.session_hash == token_prefix(world["headers"])
    assert entry.detail == {"students": [str(world["mine"].id)], "by": "number", "count": 1}
    assert sorted(entry.fields) == sorted(API_FIELDS)
    assert "2024-001" not in str(entry.detail)  # the query itself is never recorded


def test_lookup_is_exact_after_normalising_spaces(client, world):  # type: ignore[no-untyped-def]
    assert _ids(client.get("/api/v1/students?number=%202024-001%20", headers=world["headers"])) == [
        str(world["mine"].id)
    ]
    assert _ids(client.get("/api/v1/students?number=2024-00", headers=world["headers"])) == []


@pytest.mark.parametrize(
    ("school", "found"),
    [("own", True), ("other", False), ("nope", False)],
)
def test_school_filter(client, world, school, found):  # type: ignore[no-untyped-def]
    code = world[school].code if school in world else "no-such-school"
    response = client.get(
        f"/api/v1/students?number=2024-001&school={code}", headers=world["headers"]
    )
    assert _ids(response) == ([str(world["mine"].id)] if found else [])


def test_unknown_and_out_of_scope_look_the_same(client, db_session, env, world, audit_entries):  # type: ignore[no-untyped-def]
    other_only = make_student(db_session, world["other"], student_number="2024-777")
    unknown = client.get("/api/v1/students?number=2024-999", headers=world["headers"])
    hidden = client.get(
        f"/api/v1/students?number={other_only.student_number}", headers=world["headers"]
    )
    assert unknown.get_json() == hidden.get_json() == {"students": [], "truncated": False}
    assert [e.detail["count"] for e in audit_entries(AuditAction.STUDENT_SEARCH)] == [0, 0]


def test_district_counsellor_finds_only_students_the_district_is_involved_with(
    client, db_session, env, world
):  # type: ignore[no-untyped-def]
    counsellor = make_user(db_session, env.settings, Role.COUNSELLOR)
    headers = bearer(db_session, counsellor, "students:read")
    assert _ids(client.get("/api/v1/students?number=2024-001", headers=headers)) == []
    involved = make_student(
        db_session, world["other"], student_number="2024-555", district_involved=True
    )
    assert _ids(client.get("/api/v1/students?number=2024-555", headers=headers)) == [
        str(involved.id)
    ]


@pytest.mark.parametrize("query", ["", "?number=", "?number=%20", "?number=abc", "?school=x"])
def test_lookup_needs_a_student_number(client, world, query):  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/students{query}", headers=world["headers"])
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_request"


def test_one_student_is_audited_with_the_fields_shown(client, world, audit_entries):  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/students/{world['mine'].id}", headers=world["headers"])
    assert response.status_code == 200
    assert set(response.get_json()) == FIELDS
    assert schema_errors("Student", response.get_json()) == []
    assert world["mine"].name not in response.get_data(as_text=True)
    [entry] = audit_entries(AuditAction.STUDENT_VIEW)
    assert (entry.student_id, entry.school_id) == (world["mine"].id, world["own"].id)
    assert sorted(entry.fields) == sorted(API_FIELDS)
    assert entry.session_hash == token_prefix(world["headers"])


def test_other_schools_student_is_404_like_an_unknown_one_and_the_refusal_audited(
    client, world, audit_entries
):  # type: ignore[no-untyped-def]
    hidden = client.get(f"/api/v1/students/{world['theirs'].id}", headers=world["headers"])
    unknown = client.get(f"/api/v1/students/{uuid.uuid4()}", headers=world["headers"])
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.get_json() == unknown.get_json()
    assert hidden.get_json()["error"]["code"] == "not_found"
    assert audit_entries(AuditAction.STUDENT_VIEW) == []
    [denied] = audit_entries(AuditAction.ACCESS_DENIED)
    assert denied.outcome == "denied" and denied.student_id == world["theirs"].id
    assert denied.actor_user_id == world["teacher"].id
    assert denied.session_hash == token_prefix(world["headers"])
    assert denied.detail["endpoint"] == "students_api.detail"
