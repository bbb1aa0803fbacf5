"""Authorization matrix for the API base routes (expected statuses written by hand).

The matrix signs in with browser sessions, which never authenticate the API: every role gets
the anonymous 401 (so the API needs no CSRF token). Token-based access: test_tokens.py."""

from ..authz import OK, Case, build_world, everyone, run_cases

UNAUTHENTICATED = 401  # API routes answer JSON 401 instead of redirecting to the login page

CASES = [
    Case("GET", "/api/v1/me", lambda w, where: "/api/v1/me", everyone(UNAUTHENTICATED)),
    # The OpenAPI document is public: it describes the interface, no data.
    Case("GET", "/api/v1/openapi.json", lambda w, where: "/api/v1/openapi.json", everyone(OK)),
]


def test_api_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []
