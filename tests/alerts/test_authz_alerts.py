"""Authorization matrix for the alerts routes (expected statuses written by hand).

The world has a red alert about the own school's student and one about the other school's,
neither student involved with the district yet. Own school: its psych teacher is a recipient,
its leader is in scope; district counsellors are not (the school handles its own alerts until
the alert is escalated to the district or the student is involved with it). The other school
has no staff in the world, so its alert climbs straight to the district counsellors, who may
then handle it (escalated to the district). A second pair of
alerts is about district-involved students: there the counsellors are in scope for both
schools. Class teachers, partners and admins have no inbox; supervisors have one, but red
alerts are not theirs to handle. The district queue is the counsellors' alone.
"""

from wellbeing.alerts.services import raise_alert

from ..authz import FORBIDDEN, LOGIN, OK, REDIRECT, Case, build_world, everyone, run_cases
from ..factories import make_student


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


def _involved_alerts(world):
    if "involved_own" not in world.extra:
        for where, school in (("own", world.own_school), ("other", world.other_school)):
            student = make_student(world.session, school, district_involved=True, tier=3)
            alert = raise_alert(
                world.session, kind="red_tier", school_id=school.id, student_id=student.id, tier=3
            )
            world.extra[f"involved_{where}"] = alert.id


def _url(suffix="", key="alert"):
    return lambda w, where: f"/alerts/{w.extra[f'{key}_{where}']}{suffix}"


NO_INBOX = {"class_teacher": FORBIDDEN, "partner": FORBIDDEN, "admin": FORBIDDEN}
HANDLERS_OWN = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK)
HANDLERS_OTHER = everyone(FORBIDDEN, anonymous=LOGIN, counsellor=OK)
INVOLVED_OWN = {**HANDLERS_OWN, "counsellor": OK}
INVOLVED_OTHER = HANDLERS_OTHER


def _acting(table):
    return {role: (REDIRECT if status == OK else status) for role, status in table.items()}


CASES = [
    Case("GET", "/alerts", lambda w, where: "/alerts", everyone(OK, anonymous=LOGIN, **NO_INBOX)),
    Case(
        "GET",
        "/district/alerts",
        lambda w, where: "/district/alerts",
        everyone(FORBIDDEN, anonymous=LOGIN, counsellor=OK),
        setup=_involved_alerts,
    ),
    Case("GET", "/alerts/<uuid:alert_id>", _url(), HANDLERS_OWN, HANDLERS_OTHER, setup=_alerts),
    Case(
        "GET",
        "/alerts/<uuid:alert_id>",
        _url(key="involved"),
        INVOLVED_OWN,
        INVOLVED_OTHER,
        setup=_involved_alerts,
    ),
    Case(
        "POST",
        "/alerts/<uuid:alert_id>/acknowledge",
        _url("/acknowledge", key="involved"),
        _acting(INVOLVED_OWN),
        _acting(INVOLVED_OTHER),
        setup=_involved_alerts,
    ),
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
