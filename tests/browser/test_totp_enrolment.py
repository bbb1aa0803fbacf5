"""A counsellor must enrol TOTP at first sign-in (QR code + key), then signs in with a code;
a code already used is refused."""

from __future__ import annotations

import time

import pyotp

from ..factories import PASSWORD, make_user
from .test_sign_in import submit_login


def test_counsellor_enrols_totp_then_signs_in_with_a_fresh_code(live_server, browser_page):
    with live_server.db.session() as session:
        username = make_user(session, live_server.env.settings, "counsellor").username
    page = browser_page
    submit_login(page, live_server.url, username, PASSWORD)
    page.wait_for_url("**/account/mfa/enrol**")
    assert page.locator("figure.qr svg").count() == 1  # QR code rendered on the server as SVG
    secret = page.locator("#totp-secret").inner_text().strip().replace(" ", "")
    totp = pyotp.TOTP(secret)
    first_code = totp.now()
    page.fill("input[name=code]", first_code)
    page.click("main button[type=submit], main input[type=submit]")
    # The recovery codes are shown once; the user goes on from there.
    assert page.locator("[data-testid=recovery-codes] li code").count() == 10
    page.click("main a[role=button]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("#logout-form").count() == 1

    page.click("#logout-form button[type=submit]")
    page.wait_for_url("**/login**")
    submit_login(page, live_server.url, username, PASSWORD)
    page.wait_for_url("**/login/totp**")
    page.fill("input[name=code]", first_code)  # already used at enrolment: refused
    page.click("main button[type=submit], main input[type=submit]")
    assert "/login/totp" in page.url
    assert page.locator("#logout-form").count() == 0

    # wait for the next 30-second step so that a new code exists
    while totp.now() == first_code:
        time.sleep(1)
    page.fill("input[name=code]", totp.now())
    page.click("main button[type=submit], main input[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("#logout-form").count() == 1
