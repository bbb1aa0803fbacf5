"""Every redirect to a user-supplied address (``?next=`` at sign-in, after the password step and
after the TOTP step, and the language switch's ``next``) stays on this site; tricky values go
home and never cause an error."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from wellbeing.auth.redirects import safe_next
from wellbeing.core.authz import Role

from ..factories import make_school, make_user
from .helpers import T0, enable_totp

SITE = "https://wellbeing.example/"

TRICKY = [
    "//evil.example/",
    "///evil.example/",
    "////evil.example",
    "/\t/evil.example/",
    "/\n/evil.example/",
    "/\r\n/evil.example/",
    "\t//evil.example/",
    " //evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\\/evil.example/",
    "\\/evil.example",
    "/%09/evil.example/",
    "/%2F/evil.example/",
    "/%5Cevil.example/",
    "/%0d%0a/evil.example/",
    "https://evil.example/",
    "http:evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "/\u3000/evil.example/",
    "/\u00a0/evil.example/",
    "/\u2028/evil.example/",
    "/\u200b/evil.example/",
    "\u200b//evil.example/",
    "/students\r\nSet-Cookie: stolen=1",
    "/students\rX: y",
    "",
]


def _assert_home(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 302, response.status_code
    location = response.headers["Location"]
    assert location == "/", repr(location)


def _on_site(location: str) -> bool:
    # What a browser does to the header: drop tabs and newlines, read "\" as "/".
    browser = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    return urlsplit(urljoin(SITE, browser)).netloc == "wellbeing.example"


@pytest.mark.parametrize("target", TRICKY)
def test_tricky_next_after_password_goes_home(app, client, db_session, env, target):
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"username": user.username, "password": "Correct-horse-9"},
    )
    _assert_home(response)
    assert client.get("/").status_code == 200  # signed in all the same


@pytest.mark.parametrize("target", TRICKY)
def test_tricky_next_after_totp_goes_home(app, client, db_session, env, target):
    user = make_user(db_session, env.settings, Role.COUNSELLOR)
    totp = enable_totp(db_session, user)
    with time_machine.travel(T0, tick=False):
        first = client.post(
            "/login",
            query_string={"next": target},
            data={"username": user.username, "password": "Correct-horse-9"},
        )
        assert first.status_code == 302 and first.headers["Location"].endswith("/login/totp")
        _assert_home(client.post("/login/totp", data={"code": totp.at(T0)}))


@pytest.mark.parametrize("target", TRICKY)
def test_tricky_next_after_language_switch_goes_home(client, target):
    _assert_home(client.post("/locale", data={"locale": "en", "next": target}))


def test_a_same_site_path_is_kept_through_both_steps(client, db_session, env):
    user = make_user(db_session, env.settings, Role.COUNSELLOR)
    totp = enable_totp(db_session, user)
    with time_machine.travel(T0, tick=False):
        client.post(
            "/login",
            query_string={"next": "/students?q=%E5%BC%A0+%E4%B8%89&page=2"},
            data={"username": user.username, "password": "Correct-horse-9"},
        )
        done = client.post("/login/totp", data={"code": totp.at(T0)})
    assert done.headers["Location"] == "/students?q=%E5%BC%A0+%E4%B8%89&page=2"


def test_the_sign_in_redirect_round_trips_the_page_asked_for(client, db_session, env):
    """``require`` sends an anonymous user to ``/login?next=<the page>``; the page comes back."""
    asked = client.get("/account/tokens?x=1")
    assert asked.status_code == 302
    login_url = asked.headers["Location"]
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    done = client.post(login_url, data={"username": user.username, "password": "Correct-horse-9"})
    assert done.headers["Location"] == "/account/tokens?x=1"


@given(st.text(max_size=40))
def test_safe_next_only_ever_returns_a_same_site_path(value: str) -> None:
    result = safe_next(value, "/")
    assert result == "/" or result.startswith("/")
    assert not any(ch in result for ch in "\t\r\n\\")
    assert _on_site(result)


@given(st.text(alphabet="/\\\t\n\r %09:.@evilhtps\u3000\u200b", max_size=12))
def test_safe_next_with_separator_soup_stays_on_site(value: str) -> None:
    assert _on_site(safe_next(value, "/"))
    assert _on_site(safe_next("/" + value, "/"))
