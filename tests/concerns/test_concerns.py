"""Concerns: the tier rule, the status machine, who sees what, the routes, audit and encryption."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from wellbeing.alerts.models import Alert
from wellbeing.auth.services import build_principal
from wellbeing.concerns import services
from wellbeing.concerns.models import CATEGORIES, URGENCIES, Concern
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden
from wellbeing.crisis.models import Crisis
from wellbeing.orgs.models import SchoolClass

from ..conftest import login
from ..factories import make_school, make_student, staff_set


@pytest.fixture
def school_world(db_session, env):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    klass = db_session.get(SchoolClass, users["class_teacher"].memberships[0].class_id)
    student = make_student(db_session, school, klass, name="王小明")
    classmate = make_student(db_session, school, klass, name="李静")
    elsewhere = make_student(db_session, school)  # same school, another class
    principals = {role: build_principal(db_session, u) for role, u in users.items()}
    return {
        "school": school, "users": users, "p": principals, "student": student, "classmate": classmate,
        "elsewhere": elsewhere, "class": klass,
    }  # fmt: skip


# --------------------------------------------------------------------------- pure rules


@given(st.sampled_from(CATEGORIES), st.integers(min_value=1, max_value=50))
def test_immediate_danger_is_always_red(category, recent):
    assert services.tier_for("immediate_danger", category, recent) == 3


@given(
    st.sampled_from(URGENCIES), st.sampled_from(CATEGORIES), st.integers(1, 50), st.integers(0, 50)
)
def test_tier_rule_is_monotone_in_repeats_and_bounded(urgency, category, recent, more):
    low = services.tier_for(urgency, category, recent)
    high = services.tier_for(urgency, category, recent + more)
    assert 0 <= low <= high <= 3
    if urgency == "soon":
        assert low >= 1
    if category == "self_harm_signs":
        assert low >= 2
    if urgency != "immediate_danger":
        assert high <= 2


def test_routine_concern_alone_does_not_raise():
    assert services.tier_for("routine", "mood", 1) == 0
    assert services.tier_for("routine", "mood", services.REPEATED_CONCERNS) == 2


@given(st.lists(st.sampled_from(["seen", "acted", "new", "bogus"]), max_size=8))
def test_status_only_moves_forward(actions):
    order = ["new", "seen", "acted"]
    status = "new"
    for action in actions:
        try:
            new = services.next_status(status, action)
        except services.ConcernError:
            assert (status, action) not in {("new", "seen"), ("new", "acted"), ("seen", "acted")}
            continue
        assert order.index(new) > order.index(status)
        status = new
    assert status in order


def test_topics_map_to_a_category_self_harm_first():
    assert services.category_for_topics(["family", "self_harm"]) == "self_harm_signs"
    assert services.category_for_topics(["anxiety"]) == "mood"
    assert services.category_for_topics(["other"]) == "other"
    assert services.urgency_for_risk(3) == "immediate_danger"
    assert services.urgency_for_risk(2) == "soon"
    assert services.urgency_for_risk(0) == "routine"


# --------------------------------------------------------------------------- services


def test_immediate_danger_makes_red_alert_and_crisis(db_session, school_world, audit_entries):
    w = school_world
    concern = services.create_concern(
        db_session, w["p"]["class_teacher"], w["student"], category="self_harm_signs",
        urgency="immediate_danger", text="说想从楼上跳下去",
    )  # fmt: skip
    student = w["student"]
    assert (student.tier, student.tier_provisional) == (3, True)
    assert concern.raised_to == 3 and concern.state == "new"
    # one call for help: the red-tier alert and the urgent concern are the same open alert
    (alert,) = db_session.scalars(select(Alert).where(Alert.student_id == student.id)).all()
    assert (
        alert.kind in {"red_tier", "urgent_concern"} and alert.state == "open" and alert.tier == 3
    )
    crisis = db_session.scalar(select(Crisis).where(Crisis.student_id == student.id))
    assert crisis is not None and crisis.state == "open"
    (entry,) = audit_entries(AuditAction.CONCERN_CREATE)
    assert entry.student_id == student.id and entry.detail["urgency"] == "immediate_danger"
    assert "跳" not in str(entry.detail) and set(entry.fields) == {"category", "text", "urgency"}


def test_urgent_concern_on_a_student_already_red_still_alerts(db_session, school_world):
    w = school_world
    w["student"].tier = 3
    concern = services.create_concern(
        db_session, w["p"]["class_teacher"], w["student"], category="behaviour",
        urgency="immediate_danger", text="拿着刀",
    )  # fmt: skip
    assert concern.raised_to is None
    alert = db_session.scalar(select(Alert).where(Alert.student_id == w["student"].id))
    assert alert.kind == "urgent_concern" and alert.source_id == concern.id


def test_concern_text_and_category_are_encrypted_at_rest(db_session, school_world):
    w = school_world
    concern = services.create_concern(
        db_session, w["p"]["class_teacher"], w["student"], category="family", urgency="routine",
        text="父母正在离婚",
    )  # fmt: skip
    db_session.flush()
    raw = db_session.execute(
        text("SELECT text_ct, category_ct FROM concern WHERE id = :id"), {"id": concern.id.hex}
        if db_session.get_bind().dialect.name == "sqlite" else {"id": concern.id},
    ).one()  # fmt: skip
    assert "父母".encode() not in bytes(raw[0]) and b"family" not in bytes(raw[1])
    db_session.expire(concern)
    assert concern.text == "父母正在离婚" and concern.category == "family"


def test_soon_raises_to_yellow_and_never_lowers(db_session, school_world):
    w = school_world
    services.create_concern(
        db_session, w["p"]["class_teacher"], w["student"], category="mood", urgency="soon", text="a"
    )
    assert w["student"].tier == 1
    w["classmate"].tier = 3
    concern = services.create_concern(
        db_session,
        w["p"]["class_teacher"],
        w["classmate"],
        category="mood",
        urgency="soon",
        text="b",
    )
    assert w["classmate"].tier == 3 and concern.raised_to is None


def test_third_concern_within_30_days_raises_to_orange(db_session, school_world):
    w = school_world
    now = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    for day in (0, 10):
        services.create_concern(
            db_session, w["p"]["class_teacher"], w["student"], category="mood", urgency="routine",
            text="x", now=now + dt.timedelta(days=day),
        )  # fmt: skip
    assert w["student"].tier == 0
    services.create_concern(
        db_session, w["p"]["psych_teacher"], w["student"], category="behaviour", urgency="routine",
        text="x", now=now + dt.timedelta(days=20),
    )  # fmt: skip
    assert w["student"].tier == 2


def test_class_teacher_reports_only_on_own_class(db_session, school_world):
    w = school_world
    assert {s.id for s in services.reportable_students(db_session, w["p"]["class_teacher"])} == {
        w["student"].id, w["classmate"].id,
    }  # fmt: skip
    with pytest.raises(Forbidden):
        services.create_concern(
            db_session,
            w["p"]["class_teacher"],
            w["elsewhere"],
            category="mood",
            urgency="routine",
            text="x",
        )
    other = make_student(db_session, make_school(db_session))
    with pytest.raises(Forbidden):
        services.create_concern(
            db_session, w["p"]["psych_teacher"], other, category="mood", urgency="routine", text="x"
        )


def test_refuses_empty_text_and_unknown_codes(db_session, school_world):
    w = school_world
    p, s = w["p"]["class_teacher"], w["student"]
    for kwargs in (
        {"category": "mood", "urgency": "routine", "text": "   "},
        {"category": "gossip", "urgency": "routine", "text": "x"},
        {"category": "mood", "urgency": "whenever", "text": "x"},
        {"category": "mood", "urgency": "routine", "text": "x" * 4001},
    ):
        with pytest.raises(services.ConcernError):
            services.create_concern(db_session, p, s, **kwargs)


def test_mark_seen_then_acted_and_refuse_going_back(db_session, school_world, audit_entries):
    w = school_world
    concern = services.create_concern(
        db_session,
        w["p"]["class_teacher"],
        w["student"],
        category="mood",
        urgency="routine",
        text="x",
    )
    with pytest.raises(Forbidden):  # a school leader reads but does not work concerns
        services.mark(db_session, w["p"]["school_leader"], concern, "seen")
    services.mark(db_session, w["p"]["psych_teacher"], concern, "seen")
    assert concern.state == "seen" and concern.seen_by_id == w["users"]["psych_teacher"].id
    services.mark(db_session, w["p"]["psych_teacher"], concern, "acted", note="talked with her")
    assert concern.state == "acted" and concern.acted_by_id == w["users"]["psych_teacher"].id
    with pytest.raises(services.ConcernError):
        services.mark(db_session, w["p"]["psych_teacher"], concern, "seen")
    assert [e.detail["status"] for e in audit_entries(AuditAction.CONCERN_UPDATE)] == [
        "seen",
        "acted",
    ]


def test_queue_is_scoped_to_the_school_and_to_escalated_students(db_session, school_world):
    w = school_world
    mine = services.create_concern(
        db_session, w["p"]["class_teacher"], w["student"], category="mood", urgency="soon", text="x"
    )
    other_school = make_school(db_session)
    outsider = make_student(db_session, other_school)
    services.create_concern(
        db_session, w["p"]["counsellor"], outsider, category="mood", urgency="routine", text="y"
    )
    ids = {c.id for c, _ in services.concern_queue(db_session, w["p"]["psych_teacher"])}
    assert mine.id in ids and len(ids) == 1
    assert services.concern_queue(db_session, w["p"]["counsellor"]) == []
    w["student"].district_involved = True
    assert [c.id for c, _ in services.concern_queue(db_session, w["p"]["counsellor"])] == [mine.id]
    with pytest.raises(Forbidden):
        services.concern_queue(db_session, w["p"]["class_teacher"])


# --------------------------------------------------------------------------- routes


def _post_concern(client, student, urgency="routine", category="mood", text="seen crying at lunch"):  # type: ignore[no-untyped-def]
    return client.post(
        "/concerns/new",
        data={
            "student_id": str(student.id),
            "category": category,
            "urgency": urgency,
            "text": text,
        },
    )


def test_class_teacher_form_lists_own_class_and_records_the_list(
    client, school_world, audit_entries
):
    w = school_world
    login(client, w["users"]["class_teacher"])
    page = client.get("/concerns/new").get_data(as_text=True)
    assert "王小明" in page and "李静" in page and w["elsewhere"].name not in page
    entry = audit_entries(AuditAction.STUDENT_LIST)[-1]
    assert set(entry.detail["students"]) == {str(w["student"].id), str(w["classmate"].id)}


def test_reporter_sees_own_reports_status_and_who_acted_but_not_the_case(
    client, db_session, school_world
):
    w = school_world
    login(client, w["users"]["class_teacher"])
    response = _post_concern(client, w["student"], text="秘密的细节")
    assert response.status_code == 302 and response.headers["Location"].endswith("/concerns/mine")
    concern = db_session.scalar(select(Concern).where(Concern.student_id == w["student"].id))
    page = client.get("/concerns/mine").get_data(as_text=True)
    assert "王小明" in page and "秘密的细节" not in page
    assert client.get(f"/concerns/{concern.id}").status_code == 403
    assert client.get("/concerns/queue").status_code == 403

    login(client, w["users"]["psych_teacher"])
    queue = client.get("/concerns/queue").get_data(as_text=True)
    assert f"concern-{concern.id}" in queue
    detail = client.get(f"/concerns/{concern.id}").get_data(as_text=True)
    assert "秘密的细节" in detail
    assert (
        client.post(
            f"/concerns/{concern.id}/mark", data={"action": "acted", "note": ""}
        ).status_code
        == 302
    )

    login(client, w["users"]["class_teacher"])
    page = client.get("/concerns/mine").get_data(as_text=True)
    assert "concern-status-acted" in page and w["users"]["psych_teacher"].display_name in page
    # a colleague's reports are not listed
    login(client, w["users"]["school_leader"])
    assert "王小明" not in client.get("/concerns/mine").get_data(as_text=True)


def test_class_teacher_cannot_post_for_a_student_outside_the_class(
    client, db_session, school_world
):
    w = school_world
    login(client, w["users"]["class_teacher"])
    response = _post_concern(client, w["elsewhere"])
    assert response.status_code == 200
    assert db_session.scalar(select(Concern).where(Concern.student_id == w["elsewhere"].id)) is None


def test_psych_teacher_reports_by_student_number(client, db_session, school_world):
    w = school_world
    login(client, w["users"]["psych_teacher"])
    data = {
        "school_id": str(w["school"].id), "student_number": w["elsewhere"].student_number,
        "category": "bullying", "urgency": "soon", "text": "被同学推搡",
    }  # fmt: skip
    assert client.post("/concerns/new", data=data).status_code == 302
    db_session.expire_all()
    assert w["elsewhere"].tier == 1
    data["student_number"] = "NO-SUCH-NUMBER"
    response = client.post("/concerns/new", data=data)
    assert response.status_code == 200 and "field-error" in response.get_data(as_text=True)
