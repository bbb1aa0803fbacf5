"""TOTP enrolment by QR code, the forced enrolment of counsellors/supervisors/admins, codes used
once, and MFA reset / password change behind re-authentication."""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from wellbeing.auth.models import User, UserSession
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role

from ..conftest import login
from ..factories import PASSWORD, make_school, make_user
from .helpers import T0, cookie_of, enable_totp, password_login, replay


def _secret_from(html: str) -> str:
    match = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', html)
    assert match, "the enrolment page shows no secret"
    return match.group(1)


def _codes_from(response) -> list[str]:  # type: ignore[no-untyped-def]
    return re.findall(r"<li><code>([A-Z0-9-]{14})</code></li>", response.get_data(as_text=True))


def _live_sessions(db_session, user) -> int:  # type: ignore[no-untyped-def]
    db_session.expire_all()
    rows = db_session.scalars(select(UserSession).where(UserSession.user_id == user.id)).all()
    return sum(1 for r in rows if r.revoked_at is None)


@pytest.mark.parametrize("role", [Role.COUNSELLOR, Role.SUPERVISOR, Role.ADMIN])
def test_required_roles_enrol_before_they_get_a_session(
    client, db_session, env, audit_entries, role
):
    user = make_user(db_session, env.settings, role)
    with time_machine.travel(T0, tick=False):
        response = password_login(client, user.username)
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/account/mfa/enrol")
        assert _live_sessions(db_session, user) == 0
        assert client.get("/").status_code == 302  # no session yet

        page = client.get("/account/mfa/enrol")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert "<svg" in html and "<path" in html  # the QR code, rendered on the server
        assert "<script" not in html and "style=" not in html  # strict CSP holds
        assert 'name="code"' in html
        secret = _secret_from(html)
        assert client.get("/account/mfa/enrol").get_data(as_text=True).count(secret) == 1  # stable

        db_session.expire_all()
        stored = db_session.get(User, user.id)
        assert stored.totp_secret == secret and not stored.totp_enabled
        assert secret.encode() not in stored.totp_secret_ct  # stored encrypted

        wrong = client.post("/account/mfa/enrol", data={"code": "000000"})
        assert wrong.status_code == 200 and _live_sessions(db_session, user) == 0

        done = client.post("/account/mfa/enrol", data={"code": pyotp.TOTP(secret).at(T0)})
        # The recovery codes are shown once, then the user goes on to the start page.
        assert done.status_code == 200 and len(_codes_from(done)) == 10
        assert 'href="/" role="button"' in done.get_data(as_text=True)
        assert client.get("/").status_code == 200
    db_session.expire_all()
    assert db_session.get(User, user.id).totp_enabled
    assert [e.object_id for e in audit_entries(AuditAction.MFA_ENROL)] == [str(user.id)]
    logins = audit_entries(AuditAction.LOGIN)
    assert len(logins) == 1 and logins[0].detail == {"mfa": True}


def test_optional_role_signs_in_without_totp_and_may_enrol(client, db_session, env, audit_entries):
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    response = password_login(client, user.username)
    assert response.status_code == 302 and response.headers["Location"].endswith("/")
    assert client.get("/account").status_code == 200
    html = client.get("/account/mfa/enrol").get_data(as_text=True)
    secret = _secret_from(html)
    done = client.post("/account/mfa/enrol", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and len(_codes_from(done)) == 10
    assert 'href="/account" role="button"' in done.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(User, user.id).totp_enabled
    # Once enrolled, the enrolment page no longer shows a secret.
    again = client.get("/account/mfa/enrol")
    assert again.status_code == 302 and again.headers["Location"].endswith("/account")
    assert len(audit_entries(AuditAction.MFA_ENROL)) == 1


def test_totp_login_and_a_used_code_is_refused(client, app, db_session, env, audit_entries):
    user = make_user(db_session, env.settings, Role.COUNSELLOR)
    totp = enable_totp(db_session, user)
    with time_machine.travel(T0, tick=False):
        code = totp.at(T0)
        first = password_login(client, user.username)
        assert first.headers["Location"].endswith("/login/totp")
        assert client.get("/").status_code == 302  # password alone gives no session
        assert client.post("/login/totp", data={"code": code}).status_code == 302
        assert client.get("/").status_code == 200

        second = app.test_client()
        password_login(second, user.username)
        refused = second.post("/login/totp", data={"code": code})
        assert refused.status_code == 200
        assert "already used" in refused.get_data(as_text=True)
        assert second.get("/").status_code == 302
    with time_machine.travel(T0 + dt.timedelta(seconds=30), tick=False):
        ok = second.post("/login/totp", data={"code": totp.at(T0 + dt.timedelta(seconds=30))})
        assert ok.status_code == 302
    failures = audit_entries(AuditAction.LOGIN_FAILED)
    assert [f.detail["reason"] for f in failures] == ["totp"]


def test_pending_password_step_expires(client, db_session, env):
    user = make_user(db_session, env.settings, Role.COUNSELLOR)
    totp = enable_totp(db_session, user)
    with time_machine.travel(T0, tick=False):
        password_login(client, user.username)
    later = T0 + dt.timedelta(minutes=11)
    with time_machine.travel(later, tick=False):
        response = client.post("/login/totp", data={"code": totp.at(later)})
        assert response.status_code == 302 and response.headers["Location"].endswith("/login")
        assert client.get("/").status_code == 302


def test_enrolment_needs_a_password_step_or_a_session(client, db_session, env):
    response = client.get("/account/mfa/enrol")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --------------------------------------------------------------------------- MFA reset


def test_mfa_reset_requires_reauthentication_and_is_audited(
    client, app, db_session, env, audit_entries
):
    user = make_user(db_session, env.settings, Role.COUNSELLOR)
    totp = enable_totp(db_session, user)
    with time_machine.travel(T0, tick=False) as clock:
        elsewhere = app.test_client()
        login(elsewhere, user)
        login(client, user)
        page = client.get("/account/mfa/reset")
        assert page.status_code == 200 and 'name="code"' in page.get_data(as_text=True)

        wrong_pw = client.post(
            "/account/mfa/reset", data={"current_password": "nope-nope-12", "code": totp.at(T0)}
        )
        assert wrong_pw.status_code == 200
        wrong_code = client.post(
            "/account/mfa/reset", data={"current_password": PASSWORD, "code": "123456"}
        )
        assert wrong_code.status_code == 200
        db_session.expire_all()
        assert db_session.get(User, user.id).totp_enabled
        reasons = [e.detail["factor"] for e in audit_entries(AuditAction.REAUTH_FAILED)]
        assert reasons == ["password", "totp"]
        assert {e.purpose for e in audit_entries(AuditAction.REAUTH_FAILED)} == {"mfa_reset"}

        done = client.post(
            "/account/mfa/reset", data={"current_password": PASSWORD, "code": totp.at(T0)}
        )
        assert done.status_code == 302 and done.headers["Location"].endswith("/account/mfa/enrol")
        db_session.expire_all()
        stored = db_session.get(User, user.id)
        assert not stored.totp_enabled and stored.totp_secret_ct is None
        assert len(audit_entries(AuditAction.MFA_RESET)) == 1
        assert elsewhere.get("/").status_code == 302  # the other session ended
        # A counsellor must enrol again before using anything else.
        blocked = client.get("/")
        assert blocked.status_code == 302
        assert blocked.headers["Location"].endswith("/account/mfa/enrol")
        secret = _secret_from(client.get("/account/mfa/enrol").get_data(as_text=True))
        clock.shift(dt.timedelta(minutes=2))
        code = pyotp.TOTP(secret).at(T0 + dt.timedelta(minutes=2))
        assert client.post("/account/mfa/enrol", data={"code": code}).status_code == 200
        assert client.get("/").status_code == 200


def test_mfa_reset_without_totp_goes_to_enrolment(client, db_session, env):
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    login(client, user)
    response = client.get("/account/mfa/reset")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/account/mfa/enrol"
    )


def test_session_without_second_factor_is_sent_to_enrolment(client, db_session, env):
    """A counsellor's session that has not passed MFA (e.g. the role was granted after sign-in)."""
    user = make_user(db_session, env.settings, Role.COUNSELLOR)
    login(client, user, mfa_passed=False)
    for path in ("/", "/account", "/account/tokens"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].endswith(
            "/account/mfa/enrol"
        )
    assert client.get("/account/mfa/enrol").status_code == 200
    assert client.post("/logout").status_code == 302


# --------------------------------------------------------------------------- password change


def test_password_change_requires_reauth_and_ends_other_sessions(
    client, app, db_session, env, audit_entries
):
    user = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=make_school(db_session))
    password_login(client, user.username)
    assert client.get("/").status_code == 200
    other = app.test_client()
    login(other, user)
    copied = cookie_of(other)
    new = "Brand-new-horse-42"

    wrong = client.post("/account/password",
                        data={"current_password": "Wrong-horse-1", "new_password": new, "confirm": new})  # fmt: skip
    assert wrong.status_code == 200
    assert len(audit_entries(AuditAction.REAUTH_FAILED)) == 1
    weak = client.post("/account/password",
                       data={"current_password": PASSWORD, "new_password": "aaaaaaaaaaaa", "confirm": "aaaaaaaaaaaa"})  # fmt: skip
    assert weak.status_code == 200 and audit_entries(AuditAction.PASSWORD_CHANGE) == []

    done = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": new, "confirm": new},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/account")
    changes = audit_entries(AuditAction.PASSWORD_CHANGE)
    assert (
        len(changes) == 1
        and changes[0].fields == ["password"]
        and changes[0].detail == {"sessions_ended": 1}
    )
    assert client.get("/").status_code == 200  # this session stays
    assert replay(app, copied).get("/").status_code == 302  # the other one ended on the server

    fresh = app.test_client()
    assert password_login(fresh, user.username).status_code == 200  # old password refused
    assert password_login(fresh, user.username, new).status_code == 302


def test_password_change_asks_for_the_code_when_totp_is_on(client, db_session, env, audit_entries):
    user = make_user(db_session, env.settings, Role.ADMIN)
    totp = enable_totp(db_session, user)
    new = "Brand-new-horse-42"
    with time_machine.travel(T0, tick=False):
        login(client, user)
        assert 'name="code"' in client.get("/account/password").get_data(as_text=True)
        no_code = client.post(
            "/account/password",
            data={"current_password": PASSWORD, "new_password": new, "confirm": new},
        )
        assert no_code.status_code == 200
        assert [e.detail["factor"] for e in audit_entries(AuditAction.REAUTH_FAILED)] == ["totp"]
        ok = client.post(
            "/account/password",
            data={
                "current_password": PASSWORD,
                "code": totp.at(T0),
                "new_password": new,
                "confirm": new,
            },
        )
        assert ok.status_code == 302
    assert len(audit_entries(AuditAction.PASSWORD_CHANGE)) == 1
