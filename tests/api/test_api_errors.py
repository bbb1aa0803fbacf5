"""How the API answers what it refuses, each as the OpenAPI document says (issue 12, item 11):
authentication first (401 with ``WWW-Authenticate: Bearer``, never the CSRF 400), one error
shape with ``details``, ``Allow`` on a 405, 415 for a body that is not JSON, and query
parameters whose limits the document states and the code enforces (``page``, ``number``)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from wellbeing.api.openapi import build_document
from wellbeing.core.authz import Role

from ..conftest import login
from ..factories import make_school, make_student, make_user
from ..screening.helpers import open_campaign
from .helpers import bearer, schema_errors


def _error(response, status: int, code: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert schema_errors("Error", body) == []
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def _parameter(path: str, name: str) -> dict[str, Any]:
    operation = build_document()["paths"][path]["get"]
    [parameter] = [p for p in operation["parameters"] if p["name"] == name]
    return parameter


@pytest.fixture
def teacher(db_session, env):  # type: ignore[no-untyped-def]
    return make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))


# --------------------------------------------------------------------------- authentication first


def test_a_post_without_a_token_is_401_not_the_csrf_400(client, db_session, teacher):
    campaign = open_campaign(db_session, [make_school(db_session)])
    url = f"/api/v1/campaigns/{campaign.id}/responses"
    anonymous = client.post(url, json={"responses": []}, csrf=False)
    _error(anonymous, 401, "unauthenticated")
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    # Signed in on the web, no token: the cookie does not authenticate the API either.
    login(client, teacher)
    with_cookie = client.post(url, json={"responses": []}, csrf=False)
    _error(with_cookie, 401, "unauthenticated")
    assert with_cookie.headers["WWW-Authenticate"].startswith("Bearer")


def test_every_secured_operation_without_a_token_is_401_with_the_scheme(client, db_session):
    document = build_document()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if operation.get("security", document["security"]) == []:
                continue
            url = "/api/v1" + re.sub(r"{[^}]+}", str(uuid.uuid4()), path)
            extra = {"csrf": False} if method != "get" else {}
            response = client.open(url, method=method.upper(), **extra)
            _error(response, 401, "unauthenticated")
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="wellbeing"', url
            assert "401" in operation["responses"]


def test_a_bad_token_is_401_invalid_token(client, db_session):
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer wbp_nope"})
    _error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    # A wrong token is refused even on the public document (it is a client bug to surface).
    public = client.get("/api/v1/openapi.json", headers={"Authorization": "Bearer wbp_nope"})
    _error(public, 401, "invalid_token")
    assert "401" in build_document()["paths"]["/openapi.json"]["get"]["responses"]


def test_the_401_header_is_documented(db_session):
    response = build_document()["components"]["responses"]["Unauthenticated"]
    assert "WWW-Authenticate" in response["headers"]


# --------------------------------------------------------------------------- error shape, 405, 415


def test_405_names_the_allowed_methods(client, db_session, teacher):
    headers = bearer(db_session, teacher, "alerts:read")
    response = client.post("/api/v1/me", headers=headers, csrf=False)
    _error(response, 405, "method_not_allowed")
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET"}
    campaign = f"/api/v1/campaigns/{uuid.uuid4()}/responses"
    refused = client.get(campaign, headers=headers)
    _error(refused, 405, "method_not_allowed")
    assert "POST" in refused.headers["Allow"]
    documented = build_document()["components"]["responses"]["MethodNotAllowed"]
    assert "Allow" in documented["headers"]


def test_every_error_body_has_code_message_and_details(client, db_session, teacher):
    headers = bearer(db_session, teacher, "students:read")
    answers = [
        (client.get("/api/v1/me"), 401, "unauthenticated"),
        (client.get("/api/v1/alerts", headers=headers), 403, "forbidden"),
        (client.get(f"/api/v1/students/{uuid.uuid4()}", headers=headers), 404, "not_found"),
        (client.get("/api/v1/no-such-thing", headers=headers), 404, "not_found"),
        (client.delete("/api/v1/me", headers=headers, csrf=False), 405, "method_not_allowed"),
        (client.get("/api/v1/students?number=", headers=headers), 400, "bad_request"),
    ]
    for response, status, code in answers:
        _error(response, status, code)
    error = build_document()["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["required"] == ["code", "message", "details"]


def test_intake_wants_json_415_and_names_each_faulty_item(client, db_session, env):
    school = make_school(db_session)
    campaign = open_campaign(db_session, [school])
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    headers = bearer(db_session, user, "screening:intake")
    url = f"/api/v1/campaigns/{campaign.id}/responses"
    as_form = client.post(url, data={"responses": "x"}, headers=headers, csrf=False)
    _error(as_form, 415, "unsupported_media_type")
    not_a_batch = client.post(url, json={"rows": []}, headers=headers, csrf=False)
    assert _error(not_a_batch, 400, "bad_request")["details"][0]["location"] == "body"
    invalid = client.post(
        url, headers=headers, csrf=False,
        json={"responses": [{"key": "k1", "student_number": "nobody", "instrument": "phq9",
                             "answers": {}}]},
    )  # fmt: skip
    [detail] = [d for d in _error(invalid, 422, "invalid")["details"] if d["index"] == 0][:1]
    assert detail["location"] == "body" and detail["field"] and detail["message"]
    responses = build_document()["paths"]["/campaigns/{campaign_id}/responses"]["post"]["responses"]
    assert {"400", "404", "413", "415", "422"} <= set(responses)


# --------------------------------------------------------------------------- parameter limits


def test_page_limits_are_documented_and_enforced(client, db_session, teacher):
    schema = _parameter("/alerts", "page")["schema"]
    assert (schema["minimum"], schema["maximum"]) == (1, 10_000)
    headers = bearer(db_session, teacher, "alerts:read")
    assert client.get("/api/v1/alerts?page=10000", headers=headers).status_code == 200
    for bad in ("10001", "0", "-1", "x", "1.5", ""):
        error = _error(
            client.get(f"/api/v1/alerts?page={bad}", headers=headers), 400, "bad_request"
        )
        assert error["details"] == [
            {"location": "query", "field": "page", "message": error["message"]}
        ]
        assert "10000" in error["message"]


def test_an_empty_number_is_refused_as_the_schema_says(client, db_session, teacher):
    schema = _parameter("/students", "number")["schema"]
    validator = Draft202012Validator(schema)
    assert not validator.is_valid("") and not validator.is_valid("   ")
    assert validator.is_valid("2024-001") and validator.is_valid(" 2024-001 ")
    headers = bearer(db_session, teacher, "students:read")
    for value in ("", "%20%20", "abc", "x" * 33):
        response = client.get(f"/api/v1/students?number={value}", headers=headers)
        error = _error(response, 400, "bad_request")
        assert [d["field"] for d in error["details"]] == ["number"]
    missing = client.get("/api/v1/students", headers=headers)
    assert _error(missing, 400, "bad_request")["details"][0]["field"] == "number"


def test_every_number_the_schema_allows_is_looked_up(client, db_session, teacher):
    """The other direction: a value the document allows is never refused."""
    make_student(db_session, make_school(db_session), student_number="A_1-b")
    headers = bearer(db_session, teacher, "students:read")
    for value in ("1", "A_1-b", "%201%20", "9" * 32, "-_0"):
        response = client.get(f"/api/v1/students?number={value}", headers=headers)
        assert response.status_code == 200, (value, response.get_json())


def test_an_oversized_batch_is_413_as_documented(client, db_session, env):
    from wellbeing.screening.api import INTAKE_BODY_LIMIT

    school = make_school(db_session)
    campaign = open_campaign(db_session, [school])
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    url = f"/api/v1/campaigns/{campaign.id}/responses"
    big = '{"responses": [], "pad": "' + "x" * INTAKE_BODY_LIMIT + '"}'
    kwargs = {"data": big, "content_type": "application/json", "csrf": False}
    # Authentication comes first: without a token the body is never read.
    _error(client.post(url, **kwargs), 401, "unauthenticated")
    headers = bearer(db_session, user, "screening:intake")
    _error(client.post(url, headers=headers, **kwargs), 413, "too_large")
    responses = build_document()["paths"]["/campaigns/{campaign_id}/responses"]["post"]["responses"]
    assert str(INTAKE_BODY_LIMIT) in responses["413"]["description"]
