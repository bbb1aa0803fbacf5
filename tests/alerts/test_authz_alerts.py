"""Authorization matrix for the alerts routes (expected statuses written by hand).

The world has a red alert about the own school's student and one about the other school's.
Own school: its psych teacher is a recipient, its leader and the district counsellors are in
scope. Other school: only district counsellors are in scope. Class teachers, partners and
admins have no inbox; supervisors have one, but red alerts are not theirs to handle.
"""

from wellbeing.alerts.services import raise_alert

from ..authz import FORBIDDEN, LOGIN, OK, REDIRECT, Case, build_world, everyone, run_cases


def _alerts(world):
    if "alert_own" not in world.extra:
        for where, student in (("own", world.own_student), ("other", world.other_student)):
            alert = raise_alert(
                world.session,
                kind="red_tier",
                school_id=student.school_id,
                student_id=student.id,
                tier=3,
            )
            world.extra[f"alert_{where}"] = alert.id


def _url(suffix=""):
    return lambda w, where: f"/alerts/{w.extra[f'alert_{where}']}{suffix}"


NO_INBOX = {"class_teacher": FORBIDDEN, "partner": FORBIDDEN, "admin": FORBIDDEN}
HANDLERS_OWN = everyone(
    FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK, counsellor=OK
)
HANDLERS_OTHER = everyone(FORBIDDEN, anonymous=LOGIN, counsellor=OK)


def _acting(table):
    return {role: (REDIRECT if status == OK else status) for role, status in table.items()}


CASES = [
    Case("GET", "/alerts", lambda w, where: "/alerts", everyone(OK, anonymous=LOGIN, **NO_INBOX)),
    Case("GET", "/alerts/<uuid:alert_id>", _url(), HANDLERS_OWN, HANDLERS_OTHER, setup=_alerts),
    Case(
        "POST",
        "/alerts/<uuid:alert_id>/acknowledge",
        _url("/acknowledge"),
        _acting(HANDLERS_OWN),
        _acting(HANDLERS_OTHER),
        setup=_alerts,
    ),
    Case(
        "POST",
        "/alerts/<uuid:alert_id>/resolve",
        _url("/resolve"),
        _acting(HANDLERS_OWN),
        _acting(HANDLERS_OTHER),
        setup=_alerts,
        data={"note": "Assessed, guardian informed."},
    ),
]


def test_alerts_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []


def test_unknown_alert_is_404(client, db_session, env):
    import uuid

    from ..conftest import login

    world = build_world(db_session, env.settings)
    login(client, world.users["psych_teacher"])
    assert client.get(f"/alerts/{uuid.uuid4()}").status_code == 404
    assert client.post(f"/alerts/{uuid.uuid4()}/acknowledge").status_code == 404
