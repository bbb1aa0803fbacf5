"""Authorization matrix for the auth module's routes (expected statuses written by hand)."""

from wellbeing.auth.services import build_principal as _principal
from wellbeing.auth.services import create_api_token
from wellbeing.core.authz import Role

from ..authz import (
    FORBIDDEN,
    LOGIN,
    NOT_FOUND,
    OK,
    REDIRECT,
    Case,
    World,
    build_world,
    everyone,
    run_cases,
)

WRONG_REAUTH = {
    "current_password": "not-my-password-1",
    "new_password": "Another-horse-77",
    "confirm": "Another-horse-77",
}


WRONG_ADMIN_REAUTH = {"current_password": "not-my-password-1", "code": "123456"}


def _totp_user(world: World) -> None:
    """A user with a second factor, whose reset the administrator may open."""
    from ..factories import make_user
    from .helpers import enable_totp

    user = make_user(world.session, world.settings, Role.COUNSELLOR)
    enable_totp(world.session, user)
    world.extra["totp_user"] = user.id


def _psych_token(world: World) -> None:
    user = world.users["psych_teacher"]
    new = create_api_token(
        world.session, _principal(world.session, user), user,
        name="matrix", scopes=["students:read"], days=30,
    )  # fmt: skip
    world.extra["token_id"] = new.row.id


CASES = [
    Case("GET", "/", lambda w, where: "/", everyone(OK, anonymous=LOGIN)),
    Case("GET", "/login", lambda w, where: "/login", everyone(OK)),
    Case("POST", "/login", lambda w, where: "/login", everyone(OK), data={"username": "nobody", "password": "wrong-password-1"}),
    # Without a pending password step, the TOTP step sends everyone back to the login page.
    Case("GET", "/login/totp", lambda w, where: "/login/totp", everyone(LOGIN)),
    Case("POST", "/login/totp", lambda w, where: "/login/totp", everyone(LOGIN), data={"code": "000000"}),
    Case("POST", "/logout", lambda w, where: "/logout", everyone(REDIRECT, anonymous=LOGIN)),
    Case("POST", "/locale", lambda w, where: "/locale", everyone(REDIRECT), data={"locale": "en"}),
    Case("GET", "/account", lambda w, where: "/account", everyone(OK, anonymous=LOGIN)),
    # Enrolment: any signed-in user without TOTP (none of the matrix users has it) sees the QR
    # page; anonymous users without a pending password step go to the login page.
    Case("GET", "/account/mfa/enrol", lambda w, where: "/account/mfa/enrol", everyone(OK, anonymous=LOGIN)),
    Case("POST", "/account/mfa/enrol", lambda w, where: "/account/mfa/enrol", everyone(OK, anonymous=LOGIN), data={"code": "000000"}),
    # Password change: the wrong current password re-renders the form.
    Case("GET", "/account/password", lambda w, where: "/account/password", everyone(OK, anonymous=LOGIN)),
    Case("POST", "/account/password", lambda w, where: "/account/password", everyone(OK, anonymous=LOGIN), data=WRONG_REAUTH),
    # MFA reset without TOTP set up: redirected to enrolment.
    Case("GET", "/account/mfa/reset", lambda w, where: "/account/mfa/reset", everyone(REDIRECT, anonymous=LOGIN)),
    Case("POST", "/account/mfa/reset", lambda w, where: "/account/mfa/reset", everyone(REDIRECT, anonymous=LOGIN), data={"current_password": "x"}),
    # Recovery codes need a second factor: nobody in the matrix has one, so all go to enrolment.
    Case("GET", "/account/recovery-codes", lambda w, where: "/account/recovery-codes", everyone(REDIRECT, anonymous=LOGIN)),
    Case("POST", "/account/recovery-codes", lambda w, where: "/account/recovery-codes", everyone(REDIRECT, anonymous=LOGIN), data={"current_password": "x"}),
    # Administrators reset another user's password or second factor (the wrong own password
    # re-renders the form); every other role is refused.
    Case("GET", "/admin/users/<uuid:user_id>/reset-password",
         lambda w, where: f"/admin/users/{w.users['psych_teacher'].id}/reset-password",
         everyone(FORBIDDEN, anonymous=LOGIN, admin=OK)),
    Case("POST", "/admin/users/<uuid:user_id>/reset-password",
         lambda w, where: f"/admin/users/{w.users['psych_teacher'].id}/reset-password",
         everyone(FORBIDDEN, anonymous=LOGIN, admin=OK), data=WRONG_ADMIN_REAUTH),
    Case("GET", "/admin/users/<uuid:user_id>/reset-mfa",
         lambda w, where: f"/admin/users/{w.extra['totp_user']}/reset-mfa",
         everyone(FORBIDDEN, anonymous=LOGIN, admin=OK), setup=_totp_user),
    Case("POST", "/admin/users/<uuid:user_id>/reset-mfa",
         lambda w, where: f"/admin/users/{w.extra['totp_user']}/reset-mfa",
         everyone(FORBIDDEN, anonymous=LOGIN, admin=OK), data=WRONG_ADMIN_REAUTH, setup=_totp_user),
    Case("GET", "/account/tokens", lambda w, where: "/account/tokens", everyone(OK, anonymous=LOGIN)),
    # Creates a token for those whose role has the scope; the others get the form back.
    Case("POST", "/account/tokens", lambda w, where: "/account/tokens", everyone(OK, anonymous=LOGIN),
         data={"name": "matrix", "scopes": "followups:read", "days": "30"}),
    # Only the owner (the psych teacher) may revoke the token; for anyone else it does not exist.
    Case("POST", "/account/tokens/<uuid:token_id>/revoke",
         lambda w, where: f"/account/tokens/{w.extra['token_id']}/revoke",
         everyone(NOT_FOUND, anonymous=LOGIN, psych_teacher=REDIRECT), setup=_psych_token),
]  # fmt: skip


def test_auth_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []
