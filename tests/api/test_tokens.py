"""Personal access tokens: created on the account page (shown once, stored hashed), bearer
authentication with expiry, revocation and scopes intersected with the user's role; only the
token authenticates the API (never the session cookie, hence no CSRF there); JSON errors."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from sqlalchemy import select

from wellbeing.auth.admin import set_active
from wellbeing.auth.models import ApiToken
from wellbeing.auth.services import (
    TokenError,
    TokenNotFound,
    build_principal,
    create_api_token,
    revoke_api_token,
)
from wellbeing.core import crypto
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role

from ..auth.helpers import T0, client_for, make_app, probe_blueprint
from ..conftest import login
from ..factories import make_school, make_user


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token(db_session, user, scopes=("students:read",), days=30):  # type: ignore[no-untyped-def]
    principal = build_principal(db_session, user)
    return create_api_token(
        db_session, principal, user, name="intake", scopes=list(scopes), days=days
    )


@pytest.fixture
def teacher(db_session, env):  # type: ignore[no-untyped-def]
    return make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))


@pytest.fixture
def probe_app(env, db_session):  # type: ignore[no-untyped-def]
    return make_app(env, probe_blueprint())


def _assert_json_error(response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "Traceback" not in response.get_data(as_text=True)


def test_token_created_on_the_account_page_is_shown_once_and_stored_hashed(
    client, db_session, teacher, audit_entries
):
    login(client, teacher)
    page = client.get("/account/tokens")
    html = page.get_data(as_text=True)
    assert (
        page.status_code == 200
        and 'value="students:read"' in html
        and 'value="screening:intake"' in html
    )
    no_scope = client.post("/account/tokens", data={"name": "x", "days": "30"})
    assert no_scope.status_code == 200 and 'id="api-token"' not in no_scope.get_data(as_text=True)
    created = client.post(
        "/account/tokens",
        data={
            "name": "Screening platform",
            "scopes": ["students:read", "alerts:read"],
            "days": "90",
        },
    )
    html = created.get_data(as_text=True)
    match = re.search(r'id="api-token">(wbp_[A-Za-z0-9_-]+)<', html)
    assert created.status_code == 200 and match
    token = match.group(1)
    assert token not in client.get("/account/tokens").get_data(as_text=True)  # shown once

    row = db_session.scalar(select(ApiToken).where(ApiToken.user_id == teacher.id))
    assert row.token_digest == crypto.token_digest(token)
    assert token not in " ".join(
        str(v) for v in (row.token_digest, row.prefix, row.name, row.scopes)
    )
    assert row.scope_list == ["alerts:read", "students:read"]
    assert dt.timedelta(days=89) < row.expires_at - row.created_at <= dt.timedelta(days=90)
    entry = audit_entries(AuditAction.TOKEN_CREATE)[0]
    assert entry.detail["scopes"] == ["alerts:read", "students:read"] and token not in str(
        entry.detail
    )

    me = client.application.test_client().get("/api/v1/me", headers=_bearer(token))
    assert me.status_code == 200
    body = me.get_json()
    assert body["username"] == teacher.username and body["roles"] == ["psych_teacher"]
    assert body["auth"] == "token" and body["scopes"] == ["alerts:read", "students:read"]
    assert body["token"]["prefix"] == row.prefix


def test_scopes_offered_follow_the_role(client, db_session, env):
    class_teacher = make_user(
        db_session, env.settings, Role.CLASS_TEACHER, school=make_school(db_session)
    )
    login(client, class_teacher)
    html = client.get("/account/tokens").get_data(as_text=True)
    assert 'value="followups:read"' in html and 'value="students:read"' not in html
    refused = client.post(
        "/account/tokens", data={"name": "x", "scopes": "students:read", "days": "30"}
    )
    assert refused.status_code == 200 and 'id="api-token"' not in refused.get_data(as_text=True)
    with pytest.raises(TokenError):
        _token(db_session, class_teacher, scopes=["students:read"])
    with pytest.raises(TokenError):
        _token(db_session, class_teacher, scopes=["followups:read"], days=1000)
    admin = make_user(db_session, env.settings, Role.ADMIN)
    login(client, admin)
    assert "Your role has no API scopes." in client.get("/account/tokens").get_data(as_text=True)


def test_expired_token_is_refused(client, db_session, teacher):
    with time_machine.travel(T0, tick=False) as clock:
        new = _token(db_session, teacher, days=30)
        db_session.flush()
        assert client.get("/api/v1/me", headers=_bearer(new.token)).status_code == 200
        clock.shift(dt.timedelta(days=30, seconds=1))
        response = client.get("/api/v1/me", headers=_bearer(new.token))
        _assert_json_error(response, 401, "invalid_token")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_refused_and_only_the_owner_may_revoke(
    client, db_session, env, teacher, audit_entries
):
    new = _token(db_session, teacher)
    other = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    with pytest.raises(TokenNotFound):
        revoke_api_token(db_session, build_principal(db_session, other), new.row.id)
    login(client, other)
    assert client.post(f"/account/tokens/{new.row.id}/revoke").status_code == 404
    assert client.get("/api/v1/me", headers=_bearer(new.token)).status_code == 200

    login(client, teacher)
    listing = client.get("/account/tokens").get_data(as_text=True)
    assert f"/account/tokens/{new.row.id}/revoke" in listing
    assert client.post(f"/account/tokens/{new.row.id}/revoke").status_code == 302
    _assert_json_error(client.get("/api/v1/me", headers=_bearer(new.token)), 401, "invalid_token")
    assert [e.object_id for e in audit_entries(AuditAction.TOKEN_REVOKE)] == [str(new.row.id)]


def test_disabled_user_token_is_refused(client, db_session, env, teacher):
    new = _token(db_session, teacher)
    admin = make_user(db_session, env.settings, Role.ADMIN)
    set_active(db_session, build_principal(db_session, admin), teacher, False)
    db_session.flush()
    _assert_json_error(client.get("/api/v1/me", headers=_bearer(new.token)), 401, "invalid_token")


def test_the_session_cookie_never_authenticates_the_api(client, db_session, teacher):
    login(client, teacher)
    assert client.get("/account").status_code == 200  # signed in on the web
    _assert_json_error(client.get("/api/v1/me"), 401, "unauthenticated")
    _assert_json_error(
        client.get("/api/v1/me", headers=_bearer("wbp_not-a-token")), 401, "invalid_token"
    )
    _assert_json_error(client.application.test_client().get("/api/v1/me"), 401, "unauthenticated")


def test_tokens_work_only_on_the_api(client, db_session, teacher):
    new = _token(db_session, teacher)
    response = client.get("/account", headers=_bearer(new.token))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_token_scopes_intersect_role_permissions(
    probe_app, db_session, env, teacher, audit_entries
):
    browser = client_for(probe_app)
    narrow = _token(db_session, teacher, scopes=["followups:read"])
    wide = _token(db_session, teacher, scopes=["students:read"])
    _assert_json_error(
        browser.get("/api/v1/_probe/students", headers=_bearer(narrow.token)), 403, "forbidden"
    )
    assert browser.get("/api/v1/_probe/students", headers=_bearer(wide.token)).status_code == 200
    denied = audit_entries(AuditAction.ACCESS_DENIED)
    assert [(e.actor_user_id, e.session_hash) for e in denied] == [
        (teacher.id, "tok:" + narrow.row.prefix[4:])
    ]
    # A token row claiming a scope the role lacks (bypassing the service) still gets nothing.
    class_teacher = make_user(
        db_session, env.settings, Role.CLASS_TEACHER, school=make_school(db_session)
    )
    forged = "wbp_" + crypto.random_token()
    db_session.add(ApiToken(user_id=class_teacher.id, name="forged", token_digest=crypto.token_digest(forged),
                            prefix=forged[:12], scopes="students:read", expires_at=T0 + dt.timedelta(days=3650)))  # fmt: skip
    db_session.flush()
    assert browser.get("/api/v1/me", headers=_bearer(forged)).status_code == 200
    _assert_json_error(
        browser.get("/api/v1/_probe/students", headers=_bearer(forged)), 403, "forbidden"
    )


def test_api_posts_need_the_token_not_a_csrf_token(probe_app, db_session, teacher):
    """The API is CSRF-exempt as a whole, safely: only the bearer header authenticates it, and
    a forged cross-site request cannot carry that header. A signed-in browser posting without
    the token is anonymous there (401), with or without a CSRF token."""
    new = _token(db_session, teacher, scopes=["followups:read"])
    anonymous = client_for(probe_app)
    ok = anonymous.post("/api/v1/_probe/echo", json={}, headers=_bearer(new.token), csrf=False)
    assert ok.status_code == 200 and ok.get_json() == {"user": teacher.username}

    browser = client_for(probe_app)
    login(browser, teacher)
    _assert_json_error(
        browser.post("/api/v1/_probe/echo", json={}, csrf=False), 401, "unauthenticated"
    )
    with_csrf = browser.post(
        "/api/v1/_probe/echo", json={}, csrf=False, headers={"X-CSRFToken": browser.csrf_token()}
    )
    _assert_json_error(with_csrf, 401, "unauthenticated")
    by_token = browser.post("/api/v1/_probe/echo", json={}, csrf=False, headers=_bearer(new.token))
    assert by_token.status_code == 200


def test_api_errors_are_json(probe_app, db_session, env, teacher):
    browser = client_for(probe_app, "10.7.0.1")
    new = _token(db_session, teacher, scopes=["followups:read"])
    auth = _bearer(new.token)
    _assert_json_error(browser.get("/api/v1/me"), 401, "unauthenticated")
    _assert_json_error(browser.get("/api/v1/_probe/admin-only", headers=auth), 403, "forbidden")
    _assert_json_error(browser.get("/api/v1/no-such-thing", headers=auth), 404, "not_found")
    _assert_json_error(browser.post("/api/v1/me", headers=auth), 405, "method_not_allowed")
    _assert_json_error(browser.get("/api/v1/_probe/boom", headers=auth), 500, "internal_error")
    assert "SELECT" not in browser.get("/api/v1/_probe/boom").get_data(as_text=True)
    assert browser.get("/api/v1/_probe/limited").status_code == 200
    _assert_json_error(browser.get("/api/v1/_probe/limited"), 429, "rate_limited")
    login(browser, teacher)
    _assert_json_error(
        browser.post("/api/v1/_probe/echo", data={}, csrf=False), 401, "unauthenticated"
    )


def test_token_last_used_is_recorded(client, db_session, teacher):
    new = _token(db_session, teacher)
    assert new.row.last_used_at is None
    client.get("/api/v1/me", headers=_bearer(new.token))
    db_session.expire_all()
    assert db_session.get(ApiToken, new.row.id).last_used_at is not None
