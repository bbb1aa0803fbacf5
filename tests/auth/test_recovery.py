"""One-time recovery codes: shown once, stored hashed, usable once each instead of a TOTP code at
the second sign-in step (and at a re-authentication), replaced as a set, counted on the account
page."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import time_machine
from sqlalchemy import select

from wellbeing.auth.models import RecoveryCode, User
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role

from ..conftest import login
from ..factories import PASSWORD, make_school, make_user
from .helpers import T0, enable_totp, password_login


def _codes(response) -> list[str]:  # type: ignore[no-untyped-def]
    return re.findall(r"<li><code>([A-Z0-9-]{14})</code></li>", response.get_data(as_text=True))


def _new_codes(client, totp, moment: dt.datetime) -> list[str]:  # type: ignore[no-untyped-def]
    response = client.post(
        "/account/recovery-codes", data={"current_password": PASSWORD, "code": totp.at(moment)}
    )
    assert response.status_code == 200
    codes = _codes(response)
    assert len(codes) == 10 and len(set(codes)) == 10
    return codes


def _second_step(app, user, code: str):  # type: ignore[no-untyped-def]
    browser = app.test_client()
    assert password_login(browser, user.username).headers["Location"].endswith("/login/totp")
    return browser, browser.post("/login/totp", data={"code": code})


def _left(client) -> str:  # type: ignore[no-untyped-def]
    match = re.search(
        r'data-testid="recovery-left">([^<]*)', client.get("/account").get_data(as_text=True)
    )
    assert match
    return match[1].strip()


def test_a_recovery_code_signs_in_once_instead_of_the_totp_code(
    app, client, db_session, env, audit_entries
):
    user = make_user(db_session, env.settings, Role.COUNSELLOR)
    totp = enable_totp(db_session, user)
    with time_machine.travel(T0, tick=False):
        login(client, user)
        assert _left(client) == "Unused recovery codes: 0 of 10."
        codes = _new_codes(client, totp, T0)
        assert _left(client) == "Unused recovery codes: 10 of 10."

        browser, used = _second_step(app, user, codes[0])
        assert used.status_code == 302
        assert browser.get("/").status_code == 200
        assert _left(client) == "Unused recovery codes: 9 of 10."

        # The same code again is refused and gives no session.
        again, refused = _second_step(app, user, codes[0])
        assert refused.status_code == 200 and again.get("/").status_code == 302

        # Typed in lower case, with spaces, or in full-width characters: still accepted.
        typed = codes[1].lower().replace("-", " ")
        assert _second_step(app, user, typed)[1].status_code == 302
        fullwidth = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in codes[2])
        assert unicodedata.normalize("NFKC", fullwidth) == codes[2]
        assert _second_step(app, user, fullwidth)[1].status_code == 302
        assert _left(client) == "Unused recovery codes: 7 of 10."
    logins = [e.detail for e in audit_entries(AuditAction.LOGIN)]
    assert logins.count({"mfa": True, "factor": "recovery"}) == 3
    assert [e.detail["left"] for e in audit_entries(AuditAction.MFA_RECOVERY_USED)] == [9, 8, 7]
    assert [f.detail["reason"] for f in audit_entries(AuditAction.LOGIN_FAILED)] == ["totp"]


def test_the_sign_in_with_a_recovery_code_says_how_many_are_left(app, client, db_session, env):
    user = make_user(db_session, env.settings, Role.COUNSELLOR)
    totp = enable_totp(db_session, user)
    with time_machine.travel(T0, tick=False):
        login(client, user)
        codes = _new_codes(client, totp, T0)
    for code in codes[:8]:
        browser, _ = _second_step(app, user, code)
    page = browser.get("/").get_data(as_text=True)
    assert "You signed in with a recovery code. 2 recovery codes are left." in page
    assert "Make new recovery codes on your account page" in page


def test_codes_are_stored_hashed_and_a_new_set_replaces_the_old(
    app, client, db_session, env, audit_entries
):
    user = make_user(db_session, env.settings, Role.SUPERVISOR)
    totp = enable_totp(db_session, user)
    with time_machine.travel(T0, tick=False):
        login(client, user)
        first = _new_codes(client, totp, T0)
    rows = db_session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all()
    assert len(rows) == 10
    for row in rows:
        assert row.code_hash.startswith("$argon2id$")
        assert not any(code.replace("-", "") in row.code_hash for code in first)
    later = T0 + dt.timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        second = _new_codes(client, totp, later)
    assert not set(first) & set(second)
    assert _second_step(app, user, first[0])[1].status_code == 200  # the old set is gone
    assert _second_step(app, user, second[0])[1].status_code == 302
    made = audit_entries(AuditAction.MFA_RECOVERY_CODES)
    assert [e.detail for e in made] == [
        {"codes": 10, "unused_replaced": 0},
        {"codes": 10, "unused_replaced": 10},
    ]
    assert all(code not in str(e.detail) for e in made for code in first + second)


def test_new_codes_need_reauthentication(client, db_session, env, audit_entries):
    user = make_user(db_session, env.settings, Role.COUNSELLOR)
    totp = enable_totp(db_session, user)
    with time_machine.travel(T0, tick=False):
        login(client, user)
        page = client.get("/account/recovery-codes").get_data(as_text=True)
        assert 'name="current_password"' in page and 'name="code"' in page
        wrong = client.post(
            "/account/recovery-codes",
            data={"current_password": "nope-nope-12", "code": totp.at(T0)},
        )
        assert wrong.status_code == 200 and _codes(wrong) == []
    assert db_session.scalars(select(RecoveryCode)).all() == []
    assert {e.purpose for e in audit_entries(AuditAction.REAUTH_FAILED)} == {"recovery_codes"}


def test_without_a_second_factor_there_are_no_recovery_codes(client, db_session, env):
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    login(client, user)
    response = client.get("/account/recovery-codes")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/account/mfa/enrol"
    )
    assert 'data-testid="recovery-left"' not in client.get("/account").get_data(as_text=True)


def test_enrolment_gives_working_recovery_codes(app, client, db_session, env):
    import pyotp

    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    login(client, user)
    html = client.get("/account/mfa/enrol").get_data(as_text=True)
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', html)[1]
    done = client.post("/account/mfa/enrol", data={"code": pyotp.TOTP(secret).now()})
    codes = _codes(done)
    assert len(codes) == 10 and "shown only once" in done.get_data(as_text=True)
    assert _second_step(app, user, codes[5])[1].status_code == 302


def test_a_recovery_code_replaces_the_lost_phone_at_reauthentication(
    app, client, db_session, env, audit_entries
):
    """Phone lost: sign in with one code, reset the second factor with another, enrol again."""
    user = make_user(db_session, env.settings, Role.COUNSELLOR)
    totp = enable_totp(db_session, user)
    with time_machine.travel(T0, tick=False):
        login(client, user)
        codes = _new_codes(client, totp, T0)
    browser, _ = _second_step(app, user, codes[0])
    reset = browser.post(
        "/account/mfa/reset", data={"current_password": PASSWORD, "code": codes[1]}
    )
    assert reset.status_code == 302 and reset.headers["Location"].endswith("/account/mfa/enrol")
    db_session.expire_all()
    assert not db_session.get(User, user.id).totp_enabled
    assert db_session.scalars(select(RecoveryCode)).all() == []  # the reset removed the rest
