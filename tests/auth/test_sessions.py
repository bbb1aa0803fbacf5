"""Server-side sessions: logout and account disable end them (a copied cookie stops working),
idle and absolute timeouts on a controlled clock, both configurable."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from wellbeing.auth.admin import set_active
from wellbeing.auth.models import UserSession
from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Role

from ..conftest import login
from ..factories import make_school, make_user
from .helpers import T0, client_for, cookie_of, make_app, password_login, replay


def _leader(db_session, env):  # type: ignore[no-untyped-def]
    return make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=make_school(db_session))


def test_logout_ends_the_session_on_the_server(client, app, db_session, env, audit_entries):
    user = _leader(db_session, env)
    assert password_login(client, user.username).status_code == 302
    copied = cookie_of(client)
    assert replay(app, copied).get("/").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302
    assert replay(app, copied).get("/").status_code == 302  # the copy is dead too
    db_session.expire_all()
    row = db_session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert row.revoked_at is not None
    assert len(audit_entries("auth:session:logout")) == 1


def test_account_disable_ends_every_session(client, app, db_session, env):
    user = _leader(db_session, env)
    admin = make_user(db_session, env.settings, Role.ADMIN)
    login(client, user)
    second = app.test_client()
    login(second, user)
    copied = cookie_of(client)
    assert client.get("/").status_code == 200
    set_active(db_session, build_principal(db_session, admin), user, False)
    db_session.flush()
    for browser in (client, second, replay(app, copied)):
        response = browser.get("/")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    # and the password no longer opens a new one
    assert password_login(app.test_client(), user.username).status_code == 200


def test_idle_timeout_30_minutes_by_default(client, db_session, env):
    user = _leader(db_session, env)
    with time_machine.travel(T0, tick=False) as clock:
        login(client, user)
        for _ in range(4):  # active every 29 minutes: stays signed in past the idle limit
            clock.shift(dt.timedelta(minutes=29))
            assert client.get("/").status_code == 200
        clock.shift(dt.timedelta(minutes=31))
        response = client.get("/")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        clock.shift(dt.timedelta(minutes=1))
        assert client.get("/").status_code == 302  # ended, not just refused once


def test_absolute_timeout_12_hours_by_default(client, db_session, env):
    user = _leader(db_session, env)
    with time_machine.travel(T0, tick=False) as clock:
        login(client, user)
        elapsed = dt.timedelta(0)
        while elapsed + dt.timedelta(minutes=25) < dt.timedelta(hours=12):
            clock.shift(dt.timedelta(minutes=25))
            elapsed += dt.timedelta(minutes=25)
            assert client.get("/").status_code == 200, elapsed
        clock.shift(dt.timedelta(hours=12) - elapsed + dt.timedelta(seconds=1))
        assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("overrides", "alive", "dead"),
    [
        ({"idle_timeout_minutes": 5}, dt.timedelta(minutes=4), dt.timedelta(minutes=6)),
        (
            {"absolute_timeout_hours": 1, "idle_timeout_minutes": 120},
            dt.timedelta(minutes=59),
            dt.timedelta(minutes=61),
        ),
    ],
)
def test_timeouts_are_configurable(db_session, env, overrides, alive, dead):
    app = make_app(env, **overrides)
    user = _leader(db_session, env)
    with time_machine.travel(T0, tick=False) as clock:
        browser = client_for(app)
        login(browser, user)
        clock.shift(alive)
        assert browser.get("/").status_code == 200
        # (for the absolute limit the request above refreshed "last seen"; it does not help)
        clock.shift(dead - alive if "absolute_timeout_hours" in overrides else dead)
        assert browser.get("/").status_code == 302
