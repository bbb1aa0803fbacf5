"""Authorization matrix harness.

Each module's ``tests/<module>/test_authz_<module>.py`` declares ``CASES``: for each route and
method, the expected HTTP status for every role (and anonymous) on an object of the user's own
school and of another school. Expectations are written by hand here, never computed from the
code under test. ``tests/test_route_coverage.py`` fails when a route of the app has no case.

A case's ``path`` receives the :class:`World` and ``"own"`` or ``"other"`` and returns the URL;
``setup`` (optional) may create module objects in the world first and return a dict that
``path`` then reads from ``world.extra``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from wellbeing.config import Settings

from .conftest import login
from .factories import make_class, make_school, make_student, staff_set

ROLES = (
    "anonymous", "psych_teacher", "class_teacher", "school_leader", "counsellor", "partner",
    "supervisor", "admin",
)  # fmt: skip

# Shorthands for expectation tables.
OK, REDIRECT, BAD, FORBIDDEN, NOT_FOUND = 200, 302, 400, 403, 404
LOGIN = "login"  # anonymous users are sent to the login page (302 to /login)


@dataclass
class World:
    session: Session
    settings: Settings
    own_school: Any
    other_school: Any
    users: dict[str, Any]
    own_student: Any
    other_student: Any
    extra: dict[str, Any] = field(default_factory=dict)


def build_world(session: Session, settings: Settings) -> World:
    own, other = make_school(session), make_school(session)
    users = staff_set(session, settings, own)
    teacher_class_id = next(m.class_id for m in users["class_teacher"].memberships)
    from wellbeing.orgs.models import SchoolClass

    own_class = session.get(SchoolClass, teacher_class_id)
    own_student = make_student(session, own, own_class)
    other_student = make_student(session, other, make_class(session, other))
    session.flush()
    return World(session, settings, own, other, users, own_student, other_student)


@dataclass
class Case:
    method: str
    rule: str  # the Flask rule, e.g. "/students/<uuid:student_id>"
    path: Callable[[World, str], str]
    expect: dict[str, int | str]  # role -> status for the own-school object
    expect_other: dict[str, int | str] | None = None  # role -> status for another school's
    data: Callable[[World, str], dict[str, Any]] | dict[str, Any] | None = None
    setup: Callable[[World], None] | None = None
    headers: dict[str, str] | None = None

    def expected(self, role: str, where: str) -> int | str:
        table = self.expect if where == "own" or self.expect_other is None else self.expect_other
        return table[role]


def check_case(client: FlaskClient, world: World, case: Case, role: str, where: str) -> str | None:
    """Run one cell; return a description of the mismatch, or None."""
    if case.setup is not None and not world.extra.get(f"_setup_{id(case)}"):
        case.setup(world)
        world.extra[f"_setup_{id(case)}"] = True
        world.session.flush()
    with client.session_transaction() as sess:
        sess.clear()
    if role != "anonymous":
        login(client, world.users[role])
    url = case.path(world, where)
    data = case.data(world, where) if callable(case.data) else case.data
    response = client.open(url, method=case.method, data=data, headers=case.headers)
    expected = case.expected(role, where)
    got: int | str = response.status_code
    if expected == LOGIN:
        location = response.headers.get("Location", "")
        got = LOGIN if response.status_code == 302 and "/login" in location else got
    if got != expected:
        return f"{case.method} {url} as {role} ({where}): expected {expected}, got {got}"
    return None


def run_cases(client: FlaskClient, world: World, cases: list[Case]) -> list[str]:
    problems = []
    for case in cases:
        for role in ROLES:
            for where in ("own", "other"):
                problem = check_case(client, world, case, role, where)
                if problem:
                    problems.append(problem)
    return problems


def everyone(status: int | str, **overrides: int | str) -> dict[str, int | str]:
    """A row where every role gets ``status`` except the ones named."""
    table: dict[str, int | str] = {role: status for role in ROLES}
    table.update(overrides)
    return table
