"""Authorization matrix for the administration screens (expected statuses written by hand).

Only administrators manage schools, classes, users and memberships; the same holds for every
school (administrators are district-wide), so own/other differ only in the object used.
"""

from wellbeing.core.authz import Role

from ..authz import FORBIDDEN, LOGIN, OK, REDIRECT, Case, build_world, everyone, run_cases
from ..factories import PASSWORD, make_user, unique

ADMIN_PAGE = everyone(FORBIDDEN, anonymous=LOGIN, admin=OK)
ADMIN_CHANGE = everyone(FORBIDDEN, anonymous=LOGIN, admin=REDIRECT)


def _school(w, where):  # type: ignore[no-untyped-def]
    return w.own_school if where == "own" else w.other_school


def _victims(w):  # type: ignore[no-untyped-def]
    """Two users an admin may disable (never a world user: their own cells must keep working)."""
    w.extra["victims"] = {
        where: make_user(w.session, w.settings, Role.PSYCH_TEACHER, school=_school(w, where))
        for where in ("own", "other")
    }


def _revocable(w):  # type: ignore[no-untyped-def]
    from wellbeing.auth.admin import grant_membership

    user = make_user(w.session, w.settings, Role.SCHOOL_LEADER, school=w.own_school)
    other = grant_membership(w.session, None, user, Role.SCHOOL_LEADER, school=w.other_school)
    own = next(m.id for m in user.memberships if m.school_id == w.own_school.id)
    w.extra["revocable"] = {"user": user, "own": own, "other": other.id}


def _grantee(w):  # type: ignore[no-untyped-def]
    w.extra["grantee"] = make_user(w.session, w.settings, Role.SUPERVISOR)


def _revoke_path(w, where):  # type: ignore[no-untyped-def]
    r = w.extra["revocable"]
    return f"/admin/users/{r['user'].id}/memberships/{r[where]}/revoke"


CASES = [
    Case("GET", "/admin/schools", lambda w, where: "/admin/schools", ADMIN_PAGE),
    Case("GET", "/admin/schools/new", lambda w, where: "/admin/schools/new", ADMIN_PAGE),
    Case(
        "POST", "/admin/schools/new", lambda w, where: "/admin/schools/new", ADMIN_CHANGE,
        data=lambda w, where: {"code": unique("new-"), "name": "新学校"},
    ),
    Case("GET", "/admin/schools/<uuid:school_id>", lambda w, where: f"/admin/schools/{_school(w, where).id}", ADMIN_PAGE),
    Case(
        "POST", "/admin/schools/<uuid:school_id>", lambda w, where: f"/admin/schools/{_school(w, where).id}",
        ADMIN_CHANGE, data={"name": "改名学校", "active": "y"},
    ),
    Case(
        "POST", "/admin/schools/<uuid:school_id>/classes",
        lambda w, where: f"/admin/schools/{_school(w, where).id}/classes", ADMIN_CHANGE,
        data=lambda w, where: {"grade": "8", "label": unique("班")},
    ),
    Case("GET", "/admin/users", lambda w, where: "/admin/users", ADMIN_PAGE),
    Case("GET", "/admin/users/new", lambda w, where: "/admin/users/new", ADMIN_PAGE),
    Case(
        "POST", "/admin/users/new", lambda w, where: "/admin/users/new", ADMIN_CHANGE,
        data=lambda w, where: {"username": unique("newuser"), "password": PASSWORD, "role": "psych_teacher",
                               "school": str(_school(w, where).id), "school_class": ""},
    ),
    Case(
        "GET", "/admin/users/<uuid:user_id>",
        lambda w, where: f"/admin/users/{w.users['psych_teacher'].id}", ADMIN_PAGE,
    ),
    Case(
        "POST", "/admin/users/<uuid:user_id>/active",
        lambda w, where: f"/admin/users/{w.extra['victims'][where].id}/active", ADMIN_CHANGE,
        data={"active": "0"}, setup=_victims,
    ),
    Case(
        "POST", "/admin/users/<uuid:user_id>/memberships",
        lambda w, where: f"/admin/users/{w.extra['grantee'].id}/memberships", ADMIN_CHANGE,
        data=lambda w, where: {"role": "psych_teacher", "school": str(_school(w, where).id), "school_class": ""},
        setup=_grantee,
    ),
    Case(
        "POST", "/admin/users/<uuid:user_id>/memberships/<uuid:membership_id>/revoke",
        _revoke_path, ADMIN_CHANGE, setup=_revocable,
    ),
]  # fmt: skip


def test_orgs_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []
