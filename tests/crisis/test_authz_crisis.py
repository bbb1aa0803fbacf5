"""Authorization matrix for the crisis checklist and guardian contacts (written by hand)."""

from ..authz import FORBIDDEN, LOGIN, OK, REDIRECT, Case, build_world, everyone, run_cases

WORKERS_OK = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK, counsellor=OK)
# A crisis of a student never escalated: the school's psych teacher and leader only.
OWN_OK = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK)
OWN_REDIRECT = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT, school_leader=REDIRECT)
# The psych teacher acknowledges first; the leader's second acknowledgement is refused input
# (the page again, with the error), not a permission problem.
OWN_ACK = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT, school_leader=OK)
# Closing without summary, tier and confirmation (and with steps missing) is refused input.
OWN_REFUSED = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK)
NOBODY = everyone(FORBIDDEN, anonymous=LOGIN)


def _crises(w):  # type: ignore[no-untyped-def]
    from wellbeing.crisis.services import crisis_for_student, open_crisis

    for key, student in (("own", w.own_student), ("other", w.other_student)):
        open_crisis(w.session, student)
        w.extra[f"crisis_{key}"] = crisis_for_student(w.session, student.id)


def _crisis_url(suffix=""):  # type: ignore[no-untyped-def]
    return lambda w, where: f"/crisis/{w.extra['crisis_' + where].id}{suffix}"


def _contacts_url(w, where):  # type: ignore[no-untyped-def]
    student = w.own_student if where == "own" else w.other_student
    return f"/crisis/students/{student.id}/guardian-contacts"


CONTACT = {
    "relation": "mother",
    "channel": "phone",
    "contacted_at": "2026-03-01T09:00",
    "summary": "已告知",
}

CASES = [
    Case("GET", "/crisis", lambda w, where: "/crisis", WORKERS_OK),
    Case("GET", "/crisis/<uuid:crisis_id>", _crisis_url(), OWN_OK, NOBODY, setup=_crises),
    Case(
        "POST",
        "/crisis/<uuid:crisis_id>/steps/<step>",
        _crisis_url("/steps/acknowledge"),
        OWN_ACK,
        NOBODY,
        setup=_crises,
    ),
    Case(
        "POST",
        "/crisis/<uuid:crisis_id>/close",
        _crisis_url("/close"),
        OWN_REFUSED,
        NOBODY,
        setup=_crises,
    ),
    Case(
        "GET", "/crisis/students/<uuid:student_id>/guardian-contacts", _contacts_url, OWN_OK, NOBODY
    ),
    Case(
        "POST",
        "/crisis/students/<uuid:student_id>/guardian-contacts",
        _contacts_url,
        OWN_REDIRECT,
        NOBODY,
        data=CONTACT,
    ),
]


def test_crisis_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    problems = run_cases(client, world, CASES)
    assert problems == [], "\n".join(problems)
