"""Administrators reset another user's password (temporary password, changed at the next sign-in)
or second factor from the user's page: re-authenticated, audited, the user's sessions ended."""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import time_machine
from sqlalchemy import select

from wellbeing.auth.models import RecoveryCode, User
from wellbeing.auth.recovery import regenerate_codes
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role

from ..conftest import login
from ..factories import PASSWORD, make_school, make_user
from .helpers import T0, enable_totp, password_login


def _temporary(response) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r'data-testid="temporary-password">([^<]+)<', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return match[1]


def _admin(db_session, env):  # type: ignore[no-untyped-def]
    admin = make_user(db_session, env.settings, Role.ADMIN)
    return admin, enable_totp(db_session, admin)


def test_user_page_offers_both_resets(client, db_session, env):
    admin, _ = _admin(db_session, env)
    target = make_user(db_session, env.settings, Role.COUNSELLOR)
    enable_totp(db_session, target)
    login(client, admin)
    html = client.get(f"/admin/users/{target.id}").get_data(as_text=True)
    assert f'href="/admin/users/{target.id}/reset-password"' in html
    assert f'href="/admin/users/{target.id}/reset-mfa"' in html


def test_admin_resets_a_password(app, client, db_session, env, audit_entries):
    admin, admin_totp = _admin(db_session, env)
    target = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    url = f"/admin/users/{target.id}/reset-password"
    with time_machine.travel(T0, tick=False):
        elsewhere = app.test_client()
        login(elsewhere, target)
        login(client, admin)
        page = client.get(url).get_data(as_text=True)
        assert 'name="current_password"' in page and 'name="code"' in page

        wrong = client.post(
            url, data={"current_password": "nope-nope-12", "code": admin_totp.at(T0)}
        )
        assert (
            wrong.status_code == 200
            and 'data-testid="temporary-password"' not in wrong.get_data(as_text=True)
        )
        no_code = client.post(url, data={"current_password": PASSWORD})
        assert no_code.status_code == 200
        assert [e.purpose for e in audit_entries(AuditAction.REAUTH_FAILED)] == [
            "admin_password_reset", "admin_password_reset"
        ]  # fmt: skip
        assert audit_entries(AuditAction.PASSWORD_RESET) == []

        done = client.post(url, data={"current_password": PASSWORD, "code": admin_totp.at(T0)})
        assert done.status_code == 200
        temporary = _temporary(done)
        text = done.get_data(as_text=True)
        assert "Sessions ended: 1." in text and "Nobody else was told" in text
        assert elsewhere.get("/").status_code == 302  # the user's session ended at once
    entries = audit_entries(AuditAction.PASSWORD_RESET)
    assert len(entries) == 1
    assert entries[0].actor_user_id == admin.id and entries[0].object_id == str(target.id)
    assert entries[0].detail == {"by": "admin", "sessions_ended": 1, "must_change": True}
    assert temporary not in str(entries[0].detail)

    # The old password no longer works; the temporary one leads only to the password change.
    user_browser = app.test_client()
    assert password_login(user_browser, target.username).status_code == 200
    assert password_login(user_browser, target.username, temporary).status_code == 302
    for path in ("/", "/account", "/account/tokens"):
        blocked = user_browser.get(path)
        assert blocked.status_code == 302 and blocked.headers["Location"].endswith(
            "/account/password"
        )
    form = user_browser.get("/account/password").get_data(as_text=True)
    assert "An administrator gave you a temporary password" in form
    new = "Brand-new-horse-42"
    changed = user_browser.post(
        "/account/password",
        data={"current_password": temporary, "new_password": new, "confirm": new},
    )
    assert changed.status_code == 302
    assert user_browser.get("/").status_code == 200
    db_session.expire_all()
    assert not db_session.get(User, target.id).password_must_change


def test_a_totp_user_changes_the_temporary_password_without_a_second_code(
    app, client, db_session, env
):
    """Right after signing in with the app's code, the next code may be 30 s away: the password
    change does not ask for it again."""
    admin, admin_totp = _admin(db_session, env)
    target = make_user(db_session, env.settings, Role.COUNSELLOR)
    target_totp = enable_totp(db_session, target)
    with time_machine.travel(T0, tick=False):
        login(client, admin)
        done = client.post(
            f"/admin/users/{target.id}/reset-password",
            data={"current_password": PASSWORD, "code": admin_totp.at(T0)},
        )
        temporary = _temporary(done)
        user_browser = app.test_client()
        assert (
            password_login(user_browser, target.username, temporary)
            .headers["Location"]
            .endswith("/login/totp")
        )
        assert (
            user_browser.post("/login/totp", data={"code": target_totp.at(T0)}).status_code == 302
        )
        form = user_browser.get("/account/password").get_data(as_text=True)
        assert 'name="code"' not in form
        new = "Brand-new-horse-42"
        changed = user_browser.post(
            "/account/password",
            data={"current_password": temporary, "new_password": new, "confirm": new},
        )
        assert changed.status_code == 302 and user_browser.get("/").status_code == 200
    # Later on, the code is asked for again as usual.
    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
        login(user_browser, target)
        assert 'name="code"' in user_browser.get("/account/password").get_data(as_text=True)


def test_admin_resets_a_second_factor(app, client, db_session, env, audit_entries):
    admin, admin_totp = _admin(db_session, env)
    target = make_user(db_session, env.settings, Role.COUNSELLOR)
    enable_totp(db_session, target)
    regenerate_codes(db_session, env.settings, target)
    url = f"/admin/users/{target.id}/reset-mfa"
    with time_machine.travel(T0, tick=False):
        elsewhere = app.test_client()
        login(elsewhere, target)
        login(client, admin)
        wrong = client.post(
            url, data={"current_password": "nope-nope-12", "code": admin_totp.at(T0)}
        )
        assert wrong.status_code == 200
        db_session.expire_all()
        assert db_session.get(User, target.id).totp_enabled
        done = client.post(url, data={"current_password": PASSWORD, "code": admin_totp.at(T0)})
        assert done.status_code == 200
        text = done.get_data(as_text=True)
        assert "was removed, with their recovery codes. Sessions ended: 1." in text
        assert "they set it up again at their next sign-in" in text
        assert elsewhere.get("/").status_code == 302
    db_session.expire_all()
    stored = db_session.get(User, target.id)
    assert not stored.totp_enabled and stored.totp_secret_ct is None
    assert (
        db_session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == target.id)).all()
        == []
    )
    entries = audit_entries(AuditAction.MFA_RESET)
    assert len(entries) == 1 and entries[0].actor_user_id == admin.id
    assert entries[0].detail == {"by": "admin", "sessions_ended": 1, "recovery_codes_removed": 10}
    assert {e.purpose for e in audit_entries(AuditAction.REAUTH_FAILED)} == {"admin_mfa_reset"}

    # The user signs in with the password alone and must enrol before anything else.
    fresh = app.test_client()
    response = password_login(fresh, target.username)
    assert response.headers["Location"].endswith("/account/mfa/enrol")
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<',
                       fresh.get("/account/mfa/enrol").get_data(as_text=True))[1]  # fmt: skip
    assert (
        fresh.post("/account/mfa/enrol", data={"code": pyotp.TOTP(secret).now()}).status_code == 200
    )
    assert fresh.get("/").status_code == 200


def test_admin_resets_refuse_the_admin_themself_and_users_without_a_factor(client, db_session, env):
    admin, _ = _admin(db_session, env)
    plain = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    login(client, admin)
    own = client.get(f"/admin/users/{admin.id}/reset-password")
    assert own.status_code == 302 and own.headers["Location"].endswith("/account/password")
    own_mfa = client.get(f"/admin/users/{admin.id}/reset-mfa")
    assert own_mfa.status_code == 302 and own_mfa.headers["Location"].endswith("/account")
    nothing = client.get(f"/admin/users/{plain.id}/reset-mfa")
    assert nothing.status_code == 302 and nothing.headers["Location"].endswith(
        f"/admin/users/{plain.id}"
    )
    assert "nothing to reset" in client.get(f"/admin/users/{plain.id}").get_data(as_text=True)
    assert (
        client.get("/admin/users/00000000-0000-0000-0000-000000000000/reset-password").status_code
        == 404
    )
