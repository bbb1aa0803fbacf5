"""Web hygiene: CSRF on every form post, security headers, cookie flags, error pages that leak
nothing, and a database outage answered with a 503 page."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import pytest

from wellbeing.core.authz import Role
from wellbeing.db import Database

from ..auth.helpers import client_for, make_app, probe_blueprint
from ..conftest import login
from ..factories import PASSWORD, make_school, make_user
from .production import production_app

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
LEAKS = ("Traceback", "SELECT", "password_hash", "RuntimeError", "no_such", "sqlalchemy",
         "psycopg", "OperationalError", "File \"", "127.0.0.1:9")  # fmt: skip
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _sample_url(app, rule) -> str:  # type: ignore[no-untyped-def]
    values = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        values[name] = (
            uuid.uuid4()
            if kind == "UUIDConverter"
            else 1
            if kind in {"IntegerConverter", "NumberConverter"}
            else "x"
        )
    return app.url_map.bind("localhost").build(
        rule.endpoint, values, method=next(iter(rule.methods & UNSAFE_METHODS))
    )


def _unsafe_routes(app):  # type: ignore[no-untyped-def]
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & UNSAFE_METHODS):
            yield rule, method


def _assert_no_leak(response) -> None:  # type: ignore[no-untyped-def]
    body = response.get_data(as_text=True)
    for marker in LEAKS:
        assert marker not in body, f"{response.status_code} page leaks {marker!r}"


# --------------------------------------------------------------------------- CSRF


@pytest.mark.parametrize("who", ["anonymous", "admin", "psych_teacher"])
def test_every_form_post_needs_a_csrf_token(client, app, db_session, env, who):
    routes = list(_unsafe_routes(app))
    assert len(routes) >= 5
    if who != "anonymous":
        school = make_school(db_session)
        login(
            client,
            make_user(
                db_session, env.settings, Role(who), school=school if who != "admin" else None
            ),
        )
    problems = []
    for rule, method in routes:
        url = _sample_url(app, rule)
        response = client.open(url, method=method, data={"x": "1"}, csrf=False)
        if url.startswith("/api/"):
            # The API is CSRF-exempt because the cookie does not authenticate it: 401.
            if response.status_code != 401 or "Bearer" not in response.headers["WWW-Authenticate"]:
                problems.append(f"{method} {rule.rule}: {response.status_code} (API)")
        elif response.status_code != 400:
            problems.append(f"{method} {rule.rule}: {response.status_code}")
    assert problems == []


def test_a_forged_post_changes_nothing(client, db_session, env, audit_entries):
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    login(client, user)
    before = user.locale
    other = "en" if before == "zh_CN" else "zh_CN"
    response = client.post("/locale", data={"locale": other}, csrf=False)
    assert response.status_code == 400
    db_session.expire_all()
    assert db_session.get(type(user), user.id).locale == before
    assert audit_entries("auth:locale:change") == []


# --------------------------------------------------------------------------- headers, cookies


def test_security_headers(client, db_session):
    response = client.get("/login")
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] in {
        "no-referrer",
        "same-origin",
        "strict-origin-when-cross-origin",
    }
    assert "Strict-Transport-Security" not in headers  # plain http: no HSTS
    api = client.get("/api/v1/openapi.json")
    assert (
        api.headers["Content-Security-Policy"] == csp and api.headers["Cache-Control"] == "no-store"
    )


def test_hsts_only_over_https_in_production(client, db_session, env):
    production = client_for(production_app(env))
    secure = production.get("/login", base_url="https://localhost")
    assert secure.status_code == 200
    assert "max-age=" in secure.headers["Strict-Transport-Security"]
    plain = production.get("/login", base_url="http://localhost")
    assert "Strict-Transport-Security" not in plain.headers
    # development (the demo on http://127.0.0.1) never pins the host to HTTPS
    assert "Strict-Transport-Security" not in client.get("/login", base_url="https://x").headers


def test_signed_in_pages_are_not_cached(client, db_session, env):
    login(client, make_user(db_session, env.settings, Role.ADMIN))
    assert client.get("/account").headers["Cache-Control"] == "no-store"


def _session_cookie(response) -> str:  # type: ignore[no-untyped-def]
    cookies = [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("wellbeing_session=")
    ]
    assert cookies, "no session cookie set"
    return cookies[0]


def test_cookies_secure_httponly_samesite_when_secure_cookies(env, db_session):
    app = make_app(env, secure_cookies=True)
    cookie = _session_cookie(client_for(app).get("/login", base_url="https://localhost"))
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_cookies_httponly_samesite_in_development(client, db_session):
    cookie = _session_cookie(client.get("/login"))
    assert "; HttpOnly" in cookie and "SameSite=Lax" in cookie and "; Secure" not in cookie


# Documents the app hands out as files (never served as its pages, so its CSP does not apply):
# each must carry its stylesheet inside it to be read offline.
STANDALONE_DOCUMENTS = {
    "students/export_copy.html": "the guardian's copy, downloaded as one self-contained file",
}


def test_templates_have_no_inline_script_or_style():
    problems = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if path.relative_to(TEMPLATES).as_posix() in STANDALONE_DOCUMENTS:
            if re.search(r"<script|\son[a-z]+\s*=|<link\b|\ssrc\s*=", text):
                problems.append(f"{path.name}: a standalone document fetches or runs something")
            continue
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            problems.append(f"{path.name}: inline <script>")
        if re.search(r"\sstyle\s*=", text) or re.search(r"<style\b", text):
            problems.append(f"{path.name}: inline style")
        if re.search(r"\son[a-z]+\s*=\s*[\"']", text):
            problems.append(f"{path.name}: inline event handler")
    assert problems == []


# --------------------------------------------------------------------------- error pages


@pytest.fixture
def probe_app(env, db_session):  # type: ignore[no-untyped-def]
    return make_app(env, probe_blueprint())


def _assert_error_page(response, status: int) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert f'data-status="{status}"' in response.get_data(as_text=True)  # the page names it
    assert "Content-Security-Policy" in response.headers
    _assert_no_leak(response)


def test_error_pages_leak_nothing(probe_app, db_session, env):
    browser = client_for(probe_app, "10.9.0.1")
    _assert_error_page(
        browser.post("/login", data={"username": "a", "password": "b"}, csrf=False), 400
    )
    _assert_error_page(browser.get("/no/such/page"), 404)
    _assert_error_page(browser.get("/_probe/boom"), 500)
    _assert_error_page(browser.get("/_probe/bad-sql"), 500)
    assert browser.get("/_probe/limited").status_code == 200
    _assert_error_page(browser.get("/_probe/limited"), 429)
    teacher = make_user(
        db_session, env.settings, Role.CLASS_TEACHER, school=make_school(db_session)
    )
    login(browser, teacher)
    _assert_error_page(browser.get("/_probe/admin-only"), 403)


@pytest.mark.parametrize("outage", ["postgresql-closed-port", "sqlite-deleted-directory"])
def test_database_outage_gives_a_503_page(env, db_session, tmp_path, outage):
    app = make_app(env, probe_blueprint())
    if outage == "postgresql-closed-port":
        broken = Database("postgresql+psycopg://postgres@127.0.0.1:9/wellbeing?connect_timeout=3")
    else:
        broken = Database(f"sqlite:///{tmp_path / 'gone' / 'wellbeing.db'}")
        shutil.rmtree(tmp_path / "gone")
    app.extensions["wellbeing.db"] = broken
    try:
        browser = client_for(app)
        assert browser.get("/login").status_code == 200  # pages that need no data still work
        _assert_error_page(
            browser.post("/login", data={"username": "lin", "password": PASSWORD}), 503
        )
        with browser.session_transaction() as sess:
            sess["sid"] = "a-session-token"
        _assert_error_page(browser.get("/"), 503)
        api = browser.get("/api/v1/me", headers={"Authorization": "Bearer wbp_whatever"})
        assert api.status_code == 503 and api.get_json()["error"]["code"] == "unavailable"
        _assert_no_leak(api)
    finally:
        broken.dispose()
