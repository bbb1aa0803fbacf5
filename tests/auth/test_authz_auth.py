"""Authorization matrix for the auth module's routes (expected statuses written by hand)."""

from ..authz import LOGIN, OK, REDIRECT, Case, build_world, everyone, run_cases

CASES = [
    Case("GET", "/", lambda w, where: "/", everyone(OK, anonymous=LOGIN)),
    Case("GET", "/login", lambda w, where: "/login", everyone(OK)),
    Case("POST", "/login", lambda w, where: "/login", everyone(OK), data={"username": "nobody", "password": "wrong-password-1"}),
    Case("GET", "/login/totp", lambda w, where: "/login/totp", everyone(REDIRECT)),
    Case("POST", "/login/totp", lambda w, where: "/login/totp", everyone(REDIRECT), data={"code": "000000"}),
    Case("POST", "/logout", lambda w, where: "/logout", everyone(REDIRECT, anonymous=LOGIN)),
    Case("POST", "/locale", lambda w, where: "/locale", everyone(REDIRECT), data={"locale": "en"}),
    Case("GET", "/account", lambda w, where: "/account", everyone(OK, anonymous=LOGIN)),
    Case("GET", "/account/mfa/enrol", lambda w, where: "/account/mfa/enrol", everyone(REDIRECT)),
    Case("POST", "/account/mfa/enrol", lambda w, where: "/account/mfa/enrol", everyone(REDIRECT)),
]


def test_auth_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []
