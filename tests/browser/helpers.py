"""What several browser tests do: sign in through the form or with a session cookie, read the
flash messages, and save screenshots at the two sizes a person looks at (with
``WELLBEING_SCREENS=<dir>``; the workbench and accessibility tests always write theirs, to
``screens_dir()``)."""

from __future__ import annotations

import os
from pathlib import Path

import pyotp
from flask import Flask
from sqlalchemy import select

from wellbeing.auth.models import User
from wellbeing.auth.services import start_session

from ..factories import PASSWORD

REPO = Path(__file__).resolve().parents[2]

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


def screens_dir() -> Path:
    """Where the tests write the screenshots a developer looks at: ``$WELLBEING_SCREENS`` or
    ``build/screens/`` in the checkout (git-ignored)."""
    target = Path(os.environ.get("WELLBEING_SCREENS") or REPO / "build" / "screens")
    target.mkdir(parents=True, exist_ok=True)
    return target


def use_session(page, live_server, sid: str) -> None:  # type: ignore[no-untyped-def]  # Playwright page and the live-server fixture
    """Put the signed session cookie for server session ``sid`` into the browser."""
    signer = Flask("cookies")
    signer.secret_key = live_server.env.settings.secret_key
    value = signer.session_interface.get_signing_serializer(signer).dumps({"sid": sid})
    page.context.clear_cookies()
    page.context.add_cookies(
        [{"name": "wellbeing_session", "value": value, "url": live_server.url}]
    )


def sign_in_as(page, live_server, username: str) -> None:  # type: ignore[no-untyped-def]  # Playwright page and the live-server fixture
    """A signed-in session for ``username`` (second factor passed), without the login form."""
    with live_server.db.session() as s:
        user = s.scalar(select(User).where(User.username == username))
        sid = start_session(s, user, "127.0.0.1", True).token
    use_session(page, live_server, sid)
