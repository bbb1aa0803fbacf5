"""What several browser tests do: sign in through the form, read the flash messages, and save
screenshots at the two sizes a person looks at (with ``WELLBEING_SCREENS=<dir>``)."""

from __future__ import annotations

import os
from pathlib import Path

import pyotp

from ..factories import PASSWORD

SIZES = ((1280, 800), (390, 844))
DEFAULT_VIEWPORT = {"width": 1366, "height": 768}


def sign_in(page, base: str, username: str, totp_secret: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the login form (and the second step when ``totp_secret`` is given)."""
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    if totp_secret:
        page.wait_for_url("**/login/totp**")
        page.fill("input[name=code]", pyotp.TOTP(totp_secret).now())
        page.press("input[name=code]", "Enter")
    page.wait_for_url(f"{base}/")


def flash(page) -> str:  # type: ignore[no-untyped-def]
    """The text of every flash message on the page."""
    return " ".join(page.locator(".flash, [role=alert], .flashes").all_inner_texts())


def shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Full-page screenshots at 1280×800 and 390×844 into ``$WELLBEING_SCREENS``, if set."""
    target = os.environ.get("WELLBEING_SCREENS")
    if not target:
        return
    Path(target).mkdir(parents=True, exist_ok=True)
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=f"{target}/{name}-{width}x{height}.png", full_page=True)
    page.set_viewport_size(DEFAULT_VIEWPORT)
