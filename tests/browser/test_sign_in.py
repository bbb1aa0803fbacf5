"""A real browser signs in, sees the home page, switches the language and signs out."""

from __future__ import annotations

from ..factories import PASSWORD, make_school, make_user


def _user(live_server, role: str = "psych_teacher"):  # type: ignore[no-untyped-def]
    with live_server.db.session() as session:
        school = make_school(session)
        user = make_user(session, live_server.env.settings, role, school=school)
        return user.username


def submit_login(page, base_url: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit], main input[type=submit]")


def test_sign_in_switch_language_and_sign_out(live_server, browser_page):
    username = _user(live_server)
    page = browser_page
    page.goto(f"{live_server.url}/")
    assert "/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit], main input[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"

    page.click("#locale-form button[value=en]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"

    page.click("#logout-form button[type=submit]")
    page.wait_for_url("**/login**")
    page.goto(f"{live_server.url}/account")
    assert "/login" in page.url


def test_wrong_password_shows_an_error_and_no_session(live_server, browser_page):
    username = _user(live_server)
    page = browser_page
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "not-the-password-1A")
    page.click("main button[type=submit], main input[type=submit]")
    assert page.locator(".flash-error").count() >= 1
    page.goto(f"{live_server.url}/account")
    assert "/login" in page.url
