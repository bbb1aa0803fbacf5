"""Token authorization matrices for ``/api/v1`` routes (expectations written by hand).

Like :mod:`tests.authz`, but every cell is a request with a bearer token instead of a browser
session: every staff role × an object of the user's own school or another's × a token with
the route's scope ("right"), with another scope ("wrong"), no token at all ("none"), a revoked
token and an expired one. Only the "right" column differs per role; the others are the same
for everyone (401 without a usable token, 403 with a token whose scopes do not cover the
route) and are checked with their error codes.

A role whose permissions do not include a scope cannot put it on a token on the account page;
its "right" token is then minted directly (as if the user's role had changed after the token
was made), so the matrix shows the scopes are intersected with the role at every request.

List routes may expect ``LISTED`` / ``UNLISTED``: status 200 and whether the case's object
for that school is in the answer (``TokenCase.listed``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient

from wellbeing.auth.models import ApiToken
from wellbeing.auth.services import (
    TOKEN_PREFIX,
    TokenError,
    build_principal,
    create_api_token,
    revoke_api_token,
)
from wellbeing.core import crypto
from wellbeing.db import utcnow

from ..authz import ROLES, World

STAFF = tuple(role for role in ROLES if role != "anonymous")
TOKEN_KINDS = ("right", "wrong", "none", "revoked", "expired")
LISTED, UNLISTED = "listed", "unlisted"
OK, FORBIDDEN, NOT_FOUND = 200, 403, 404


@dataclass
class TokenCase:
    rule: str  # the Flask rule, for reading
    path: Callable[[World, str], str]
    scope: str
    expect: dict[str, int | str]  # role -> status (or LISTED/UNLISTED) for the own school
    expect_other: dict[str, int | str] | None = None
    wrong_scope: str = "screening:intake"
    listed: Callable[[World, str, Any], bool] | None = None
    setup: Callable[[World], None] | None = None

    def expected(self, role: str, where: str) -> int | str:
        table = self.expect if where == "own" or self.expect_other is None else self.expect_other
        return table[role]


def staff(status: int | str, **overrides: int | str) -> dict[str, int | str]:
    table: dict[str, int | str] = {role: status for role in STAFF}
    table.update(overrides)
    return table


def _mint(world: World, user: Any, scopes: list[str]) -> tuple[str, ApiToken]:
    principal = build_principal(world.session, user)
    try:
        new = create_api_token(
            world.session, principal, user, name="matrix", scopes=scopes, days=30
        )
        return new.token, new.row
    except TokenError:
        token = TOKEN_PREFIX + crypto.random_token()
        now = utcnow()
        row = ApiToken(
            user_id=user.id, name="matrix (minted)", token_digest=crypto.token_digest(token),
            prefix=token[:12], scopes=" ".join(sorted(scopes)), created_at=now,
            expires_at=now + dt.timedelta(days=30),
        )  # fmt: skip
        world.session.add(row)
        world.session.flush()
        return token, row


def token_for(world: World, role: str, scopes: list[str], kind: str = "right") -> str:
    """A bearer token of ``world.users[role]`` (cached per role, scopes and kind)."""
    cache = world.extra.setdefault("_tokens", {})
    key = (role, tuple(sorted(scopes)), kind)
    if key not in cache:
        user = world.users[role]
        token, row = _mint(world, user, scopes)
        if kind == "revoked":
            revoke_api_token(world.session, build_principal(world.session, user), row.id)
        elif kind == "expired":
            row.created_at = utcnow() - dt.timedelta(days=31)
            row.expires_at = utcnow() - dt.timedelta(minutes=1)
        world.session.flush()
        cache[key] = token
    return cache[key]


def _headers(world: World, case: TokenCase, role: str, kind: str) -> dict[str, str]:
    if kind == "none":
        return {}
    scope = case.wrong_scope if kind == "wrong" else case.scope
    return {"Authorization": f"Bearer {token_for(world, role, [scope], kind)}"}


def _expected(case: TokenCase, role: str, where: str, kind: str) -> tuple[int | str, str | None]:
    if kind in ("none", "revoked", "expired"):
        return 401, "unauthenticated" if kind == "none" else "invalid_token"
    if kind == "wrong":
        return FORBIDDEN, "forbidden"
    expected = case.expected(role, where)
    code = {FORBIDDEN: "forbidden", NOT_FOUND: "not_found"}.get(expected)  # type: ignore[call-overload]
    return expected, code


def check_token_cell(
    client: FlaskClient, world: World, case: TokenCase, role: str, where: str, kind: str
) -> str | None:
    if case.setup is not None and not world.extra.get(f"_setup_{id(case)}"):
        case.setup(world)
        world.extra[f"_setup_{id(case)}"] = True
        world.session.flush()
    url = case.path(world, where)
    response = client.get(url, headers=_headers(world, case, role, kind))
    expected, code = _expected(case, role, where, kind)
    got: int | str = response.status_code
    body = response.get_json(silent=True)
    if expected in (LISTED, UNLISTED) and got == OK and case.listed is not None:
        got = LISTED if case.listed(world, where, body) else UNLISTED
    where_kind = f"{role} ({where}, {kind} token)"
    if got != expected:
        return f"GET {url} as {where_kind}: expected {expected}, got {got}"
    if code is not None and (body or {}).get("error", {}).get("code") != code:
        return f"GET {url} as {where_kind}: expected error code {code}, got {body}"
    return None


def run_token_cases(client: FlaskClient, world: World, cases: list[TokenCase]) -> list[str]:
    problems = []
    for case in cases:
        for role in STAFF:
            for where in ("own", "other"):
                for kind in TOKEN_KINDS:
                    problem = check_token_cell(client, world, case, role, where, kind)
                    if problem:
                        problems.append(problem)
    return problems
