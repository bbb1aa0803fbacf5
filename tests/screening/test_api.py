"""POST /api/v1/campaigns/<id>/responses: scoped token, validated batch, idempotent by key."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from wellbeing.api.openapi import build_document
from wellbeing.auth.services import build_principal, create_api_token
from wellbeing.core.authz import Role
from wellbeing.screening.api import OPENAPI_PATHS
from wellbeing.screening.models import Response

from ..factories import make_user
from .helpers import open_campaign, school_with_students


def _token(db_session, user, scopes=("screening:intake",)) -> dict[str, str]:  # type: ignore[no-untyped-def]
    new = create_api_token(
        db_session,
        build_principal(db_session, user),
        user,
        name="survey",
        scopes=list(scopes),
        days=30,
    )
    db_session.flush()
    return {"Authorization": f"Bearer {new.token}"}


def _item(key: str, number: str, total: int = 0, item9: int = 0) -> dict:  # type: ignore[type-arg]
    answers = {f"phq9_{n}": 0 for n in range(1, 10)}
    for n in range(1, 9):
        answers[f"phq9_{n}"] = min(3, max(0, total - 3 * (n - 1)))
    answers["phq9_9"] = item9
    return {"key": key, "student_number": number, "instrument": "phq9", "answers": answers}


def test_batch_is_recorded_once(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    school, _k, students = school_with_students(db_session, 3)
    campaign = open_campaign(db_session, [school])
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    headers = _token(db_session, teacher)
    batch = {"responses": [_item("a1", students[0].student_number, 12), _item("a2", students[1].student_number, 2, item9=1),
                           _item("a3", students[2].student_number, 0)]}  # fmt: skip
    url = f"/api/v1/campaigns/{campaign.id}/responses"
    first = client.post(url, json=batch, csrf=False, headers=headers)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["created"] == 3 and body["critical"] == 1
    assert body["tiers"] == {"green": 1, "yellow": 1, "orange": 0, "red": 1}
    assert [r["status"] for r in body["results"]] == ["created"] * 3
    again = client.post(url, json=batch, csrf=False, headers=headers)
    assert again.status_code == 200
    assert again.get_json()["created"] == 0 and again.get_json()["unchanged"] == 3
    assert [r["id"] for r in again.get_json()["results"]] == [r["id"] for r in body["results"]]
    assert db_session.scalar(select(func.count()).select_from(Response)) == 3


def test_invalid_batch_lists_every_problem_and_writes_nothing(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    school, _k, students = school_with_students(db_session, 2)
    campaign = open_campaign(db_session, [school])
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    bad_value = _item("b2", students[1].student_number)
    bad_value["answers"]["phq9_1"] = 7
    batch = {"responses": [_item("b1", students[0].student_number, 5), bad_value, _item("b3", "nobody"),
                           {"key": "b4", "student_number": "x", "instrument": "scl90", "answers": {}},
                           _item("b1", students[1].student_number)]}  # fmt: skip
    response = client.post(
        f"/api/v1/campaigns/{campaign.id}/responses",
        json=batch,
        csrf=False,
        headers=_token(db_session, teacher),
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid"
    details = {(d["index"], d["field"], d["message"]) for d in error["details"]}
    assert (1, "answers.phq9_1", "not an allowed answer (0, 1, 2, 3)") in details
    assert (2, "student_number", "unknown student number for this school") in details
    assert (3, "instrument", "not an instrument of this campaign") in details
    assert (4, "key", "duplicate key (first seen on entry 0)") in details
    assert db_session.scalar(select(func.count()).select_from(Response)) == 0


def test_scope_school_and_shape(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    school, _k, students = school_with_students(db_session, 1)
    other, _k2, _s = school_with_students(db_session, 1)
    campaign = open_campaign(db_session, [school])
    url = f"/api/v1/campaigns/{campaign.id}/responses"
    batch = {"responses": [_item("c1", students[0].student_number)]}
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    assert (
        client.post(
            url, json=batch, csrf=False, headers={"Authorization": "Bearer nope"}
        ).status_code
        == 401
    )
    wrong_scope = client.post(
        url, json=batch, csrf=False, headers=_token(db_session, teacher, ("screening:read",))
    )
    assert wrong_scope.status_code == 403 and wrong_scope.get_json()["error"]["code"] == "forbidden"
    # A campaign of another school answers like an unknown one (it answered 403: an oracle).
    stranger = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=other)
    outside = client.post(url, json=batch, csrf=False, headers=_token(db_session, stranger))
    unknown = client.post(
        f"/api/v1/campaigns/{uuid.uuid4()}/responses", json=batch, csrf=False,
        headers=_token(db_session, stranger),
    )  # fmt: skip
    assert outside.status_code == unknown.status_code == 404
    assert outside.get_json() == unknown.get_json()
    headers = _token(db_session, teacher)
    bad = client.post(
        url, data="nope", csrf=False, headers=headers | {"Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "bad_request"
    missing = client.post(
        "/api/v1/campaigns/00000000-0000-0000-0000-000000000000/responses",
        json=batch,
        csrf=False,
        headers=headers,
    )
    assert missing.status_code == 404


def test_openapi_description() -> None:
    operation = OPENAPI_PATHS["/campaigns/{campaign_id}/responses"]["post"]
    assert operation["security"] == [{"bearer": ["screening:intake"]}]
    assert set(operation["responses"]) >= {"200", "201", "400", "404", "413", "415", "422"}
    error = build_document()["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "details"]
