"""Authorization matrix for concerns and the hotline (expected statuses written by hand)."""

from ..authz import FORBIDDEN, LOGIN, OK, REDIRECT, Case, build_world, everyone, run_cases

REPORTERS = {"psych_teacher": OK, "class_teacher": OK, "school_leader": OK, "counsellor": OK}
COUNSELLOR_ONLY = everyone(FORBIDDEN, anonymous=LOGIN, counsellor=OK)


def _student(w, where):  # type: ignore[no-untyped-def]
    return w.own_student if where == "own" else w.other_student


def _concern_data(w, where):  # type: ignore[no-untyped-def]
    s = _student(w, where)
    return {
        "student_id": str(s.id), "school_id": str(s.school_id), "student_number": s.student_number,
        "category": "mood", "urgency": "routine", "text": "looked withdrawn in class",
    }  # fmt: skip


def _make_concerns(w):  # type: ignore[no-untyped-def]
    from wellbeing.concerns.models import Concern
    from wellbeing.orgs.models import SchoolClass

    from ..factories import make_student

    # Fresh students: the concern posts above may have raised the world's students (repeated
    # concerns -> orange, which involves the district).
    own = make_student(w.session, w.own_school, w.session.get(SchoolClass, w.own_student.class_id))
    other = make_student(w.session, w.other_school)
    for key, s in (("own", own), ("other", other)):
        c = Concern(
            school_id=s.school_id, student_id=s.id, reporter_id=w.users["school_leader"].id,
            urgency="routine", state="new", category="mood", text="seen crying",
        )  # fmt: skip
        w.session.add(c)
        w.extra[f"concern_{key}"] = c


def _make_call(w):  # type: ignore[no-untyped-def]
    import datetime as dt

    from wellbeing.concerns.models import HotlineCall
    from wellbeing.orgs.models import School

    call = HotlineCall(
        district_id=w.session.get(School, w.own_school.id).district_id,
        counsellor_id=w.users["counsellor"].id, called_at=dt.datetime.now(dt.UTC),
        duration_minutes=12, caller_type="guardian", anonymous=True, risk_level=1,
        topics=["family"], notes="worried parent",
    )  # fmt: skip
    w.session.add(call)
    w.extra["call"] = call


def _concern_url(suffix=""):  # type: ignore[no-untyped-def]
    return lambda w, where: f"/concerns/{w.extra['concern_' + where].id}{suffix}"


_HOTLINE_DATA = {
    "called_at": "2026-03-02T10:30", "duration_minutes": "15", "caller_type": "student",
    "topics": ["mood"], "risk_level": "1", "notes": "",
}  # fmt: skip

CASES = [
    Case(
        "GET",
        "/concerns/new",
        lambda w, where: "/concerns/new",
        everyone(FORBIDDEN, anonymous=LOGIN, **REPORTERS),
    ),
    Case(
        "POST",
        "/concerns/new",
        lambda w, where: "/concerns/new",
        everyone(
            FORBIDDEN,
            anonymous=LOGIN,
            psych_teacher=REDIRECT,
            class_teacher=REDIRECT,
            school_leader=REDIRECT,
            counsellor=REDIRECT,
        ),
        # another school's student: not in the class list / school choices -> the form refuses
        everyone(
            FORBIDDEN,
            anonymous=LOGIN,
            psych_teacher=OK,
            class_teacher=OK,
            school_leader=OK,
            counsellor=REDIRECT,
        ),
        data=_concern_data,
    ),
    Case(
        "GET",
        "/concerns/mine",
        lambda w, where: "/concerns/mine",
        everyone(FORBIDDEN, anonymous=LOGIN, **REPORTERS),
    ),
    Case(
        "GET",
        "/concerns/queue",
        lambda w, where: "/concerns/queue",
        everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK, counsellor=OK),
    ),
    Case(
        "GET",
        "/concerns/<uuid:concern_id>",
        _concern_url(),
        everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK),
        everyone(FORBIDDEN, anonymous=LOGIN),
        setup=_make_concerns,
    ),
    Case(
        "POST",
        "/concerns/<uuid:concern_id>/mark",
        _concern_url("/mark"),
        everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT),
        everyone(FORBIDDEN, anonymous=LOGIN),
        data={"action": "seen"},
        setup=_make_concerns,
    ),
    Case("GET", "/hotline", lambda w, where: "/hotline", COUNSELLOR_ONLY),
    Case("GET", "/hotline/new", lambda w, where: "/hotline/new", COUNSELLOR_ONLY),
    Case(
        "POST",
        "/hotline/new",
        lambda w, where: "/hotline/new",
        everyone(FORBIDDEN, anonymous=LOGIN, counsellor=REDIRECT),
        data=_HOTLINE_DATA,
    ),
    Case(
        "GET",
        "/hotline/<uuid:call_id>",
        lambda w, where: f"/hotline/{w.extra['call'].id}",
        COUNSELLOR_ONLY,
        setup=_make_call,
    ),
]


def test_concerns_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    problems = run_cases(client, world, CASES)
    assert problems == [], "\n".join(problems)
