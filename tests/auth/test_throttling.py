"""Failed logins are throttled per IP and per account (Flask-Limiter) with a 429 page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from wellbeing.auth.models import User
from wellbeing.core.authz import Role

from ..factories import make_school, make_user
from .helpers import client_for, enable_totp, make_app, password_login


@pytest.fixture
def strict_app(env, db_session):  # type: ignore[no-untyped-def]
    return make_app(env, login_limit="3 per minute")


def _assert_429_page(response) -> None:  # type: ignore[no-untyped-def]
    body = response.get_data(as_text=True)
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    assert "429" in body and "Traceback" not in body


def test_failed_logins_throttled_per_ip(strict_app, db_session, env):
    browser = client_for(strict_app, "10.1.0.1")
    for n in range(3):
        assert password_login(browser, f"nobody{n}", "Wrong-horse-11").status_code == 200
    _assert_429_page(password_login(browser, "nobody9", "Wrong-horse-11"))
    # another address is not affected
    assert (
        password_login(client_for(strict_app, "10.1.0.2"), "nobody9", "Wrong-horse-11").status_code
        == 200
    )


def test_failed_logins_throttled_per_account(strict_app, db_session, env):
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    for n in range(3):
        browser = client_for(strict_app, f"10.2.0.{n + 1}")
        assert password_login(browser, user.username, "Wrong-horse-11").status_code == 200
    # from a fresh address, even the right password is refused for this account for now
    _assert_429_page(password_login(client_for(strict_app, "10.2.0.99"), user.username))
    # other accounts from that address still work
    other = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    assert password_login(client_for(strict_app, "10.2.0.99"), other.username).status_code == 302


def test_successful_logins_do_not_count(strict_app, db_session, env):
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    browser = client_for(strict_app, "10.3.0.1")
    for _ in range(5):
        assert password_login(browser, user.username).status_code == 302
        assert browser.post("/logout").status_code == 302


def test_totp_guesses_are_throttled(strict_app, db_session, env):
    user = make_user(db_session, env.settings, Role.COUNSELLOR)
    enable_totp(db_session, user)
    browser = client_for(strict_app, "10.4.0.1")
    assert password_login(browser, user.username).headers["Location"].endswith("/login/totp")
    for _ in range(3):
        assert browser.post("/login/totp", data={"code": "000000"}).status_code == 200
    _assert_429_page(browser.post("/login/totp", data={"code": "000000"}))
    db_session.expire_all()
    assert db_session.scalar(select(User.totp_last_step).where(User.id == user.id)) == 0


def test_reauthentication_is_throttled(strict_app, db_session, env):
    from ..conftest import login

    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    browser = client_for(strict_app, "10.5.0.1")
    login(browser, user)
    data = {
        "current_password": "Wrong-horse-11",
        "new_password": "Brand-new-horse-42",
        "confirm": "Brand-new-horse-42",
    }
    for _ in range(3):
        assert browser.post("/account/password", data=data).status_code == 200
    _assert_429_page(browser.post("/account/password", data=data))
