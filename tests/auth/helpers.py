"""Helpers shared by the auth, API and web-hygiene tests."""

from __future__ import annotations

import datetime as dt

import pyotp
from flask import Blueprint, Flask
from flask.testing import FlaskClient

from wellbeing import create_app
from wellbeing.auth.models import User

from ..conftest import CsrfClient, Env
from ..factories import PASSWORD

T0 = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)  # 08:00 in Shanghai


def make_app(env: Env, *blueprints: Blueprint, **overrides: object) -> Flask:
    """A dedicated app on the test database with changed settings (and extra test routes)."""
    app = create_app(env.settings.with_overrides(**overrides), db=env.db)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    app.test_client_class = CsrfClient
    return app


def client_for(app: Flask, ip: str = "127.0.0.1") -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def enable_totp(session, user: User) -> pyotp.TOTP:  # type: ignore[no-untyped-def]
    """Give ``user`` an enabled second factor; returns the TOTP to make codes with."""
    secret = pyotp.random_base32()
    user.totp_secret = secret
    user.totp_enabled = True
    session.flush()
    return pyotp.TOTP(secret)


def code_at(totp: pyotp.TOTP, moment: dt.datetime) -> str:
    return totp.at(moment)


def password_login(client: FlaskClient, username: str, password: str = PASSWORD, **kw: object):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password}, **kw)


def cookie_of(client: FlaskClient) -> str:
    cookie = client.get_cookie("wellbeing_session")
    assert cookie is not None
    return cookie.value


def replay(app: Flask, cookie: str) -> FlaskClient:
    """A second browser carrying a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie("wellbeing_session", cookie)
    return thief


def probe_blueprint() -> Blueprint:
    """Test-only routes for a dedicated app: errors, a denied page, a throttled page, and API
    routes to exercise CSRF exemption and token scopes."""
    from flask import g, jsonify
    from sqlalchemy import text

    from wellbeing.core.authz import Permission
    from wellbeing.db import get_session
    from wellbeing.extensions import limiter
    from wellbeing.web import require

    bp = Blueprint("probe", __name__)

    @bp.get("/_probe/boom")
    @bp.get("/api/v1/_probe/boom")
    @require(Permission.PUBLIC)
    def boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("SELECT password_hash FROM user_account -- secret detail")

    @bp.get("/_probe/bad-sql")
    @require(Permission.PUBLIC)
    def bad_sql():  # type: ignore[no-untyped-def]
        get_session().execute(text("SELECT no_such_column FROM no_such_table"))
        return "unreachable"

    @bp.get("/_probe/admin-only")
    @bp.get("/api/v1/_probe/admin-only")
    @require(Permission.USERS_MANAGE)
    def admin_only():  # type: ignore[no-untyped-def]
        return "ok"

    @bp.get("/_probe/limited")
    @bp.get("/api/v1/_probe/limited")
    @require(Permission.PUBLIC)
    @limiter.limit("1 per minute")
    def limited():  # type: ignore[no-untyped-def]
        return "ok"

    @bp.post("/api/v1/_probe/echo")
    @require(Permission.SELF_SESSION)
    def echo():  # type: ignore[no-untyped-def]
        return jsonify({"user": g.user.username})

    @bp.get("/api/v1/_probe/students")
    @require(Permission.STUDENTS_SEARCH)
    def students():  # type: ignore[no-untyped-def]
        return jsonify({"ok": True})

    return bp
