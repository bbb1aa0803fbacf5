"""Failed logins are throttled per IP and per account (Flask-Limiter) with a 429 page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from wellbeing.auth.models import User
from wellbeing.core.authz import Role

from ..factories import make_school, make_user
from .helpers import client_for, enable_totp, make_app, password_login


@pytest.fixture
def strict_app(env, db_session):  # type: ignore[no-untyped-def]
    return make_app(env, login_limit="3 per minute")


PAUSED = re.compile(r'data-testid="throttle-message">([^<]*)<')


def _assert_429_page(response) -> str:  # type: ignore[no-untyped-def]
    """The refusal page says that attempts are paused and until when; returns the message."""
    body = response.get_data(as_text=True)
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    assert "Traceback" not in body
    match = PAUSED.search(body)
    assert match, body
    assert re.search(r"(paused for|wait) \d+ minutes?, until \d\d:\d\d", match[1]), match[1]
    return match[1]


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


def _flashes(response) -> list[str]:  # type: ignore[no-untyped-def]
    return re.findall(r'class="flash flash-error"[^>]*>([^<]*)<', response.get_data(as_text=True))


def test_the_pause_is_announced_the_same_for_known_and_unknown_usernames(
    strict_app, db_session, env
):
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    messages = []
    for n, username in enumerate((user.username, "no-such-user")):
        browser = client_for(strict_app, f"10.6.0.{n + 1}")
        for _ in range(3):
            assert password_login(browser, username, "Wrong-horse-11").status_code == 200
        # from yet another address, so it is the account's counter that ran out
        refused = password_login(client_for(strict_app, f"10.6.1.{n + 1}"), username)
        messages.append(re.sub(r"\d+", "#", _assert_429_page(refused)))
        assert "Please try again then." in messages[-1]
    assert messages[0] == messages[1]
    assert "exist" not in messages[0].lower() and "no-such-user" not in messages[0]


def test_failures_warn_before_the_pause(env, db_session):
    """With the production limit (10 per 15 minutes), the 7th wrong password in a row says how
    many attempts are left; the 10th says that signing in is now paused, and until when."""
    app = make_app(env, login_limit="10 per 15 minutes")
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    browser = client_for(app, "10.7.0.1")
    said = [_flashes(password_login(browser, user.username, "Wrong-horse-11")) for _ in range(10)]
    assert said[0] == ["Wrong username or password."]  # no nagging at the first slip
    assert said[6] == [
        "Wrong username or password.",
        "3 more failed attempts, and further attempts will be paused for up to 15 minutes.",
    ]
    assert said[8][1].startswith("1 more failed attempt,")
    assert re.fullmatch(r"For your security, further attempts are now paused until \d\d:\d\d\.",
                        said[9][1])  # fmt: skip
    _assert_429_page(password_login(browser, user.username))


def test_a_throttled_reauthentication_says_how_long(strict_app, db_session, env):
    from ..conftest import login

    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    browser = client_for(strict_app, "10.8.0.1")
    login(browser, user)
    data = {"current_password": "Wrong-horse-11", "new_password": "Brand-new-horse-42",
            "confirm": "Brand-new-horse-42"}  # fmt: skip
    for _ in range(3):
        browser.post("/account/password", data=data)
    refused = browser.post("/account/password", data=data)
    assert refused.status_code == 429
    assert "Too many failed attempts to confirm who you are" in refused.get_data(as_text=True)
