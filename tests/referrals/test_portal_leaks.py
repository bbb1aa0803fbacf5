"""Every portal page, print, export and API answer carries the minimum dataset and nothing
else (issue 15 item 4; the anchors: "recipient can still export non-permitted fields", "PDF
export no longer limits forms").

The world: a student with a counselling note, a plan in effect, a concern, two screening
results of which one is chosen, two guardians of which one is chosen (the other with more
details), an internal reason, a reason the centre wrote when returning the referral, the
guardian-contact summary, a student number, a national id and a birth date; another student of
the school, and another student referred to the other partner. Each of their plaintext strings
must be absent from every response of the portal and the partner API (HTML and JSON), while each
chosen one is present. Then the guardian withdraws consent: the next answer of every surface
shows "withdrawn" and none of the data.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wellbeing.core.authz import Role
from wellbeing.db import utcnow
from wellbeing.notes import services as notes
from wellbeing.referrals import services
from wellbeing.screening.engine.instruments import builtin_instruments
from wellbeing.screening.models import Response
from wellbeing.screening.services import create_campaign

from ..api.helpers import bearer
from ..conftest import login
from ..factories import make_student
from ..plans.test_authz_plan_tasks import plan_in_effect
from .helpers import World, draft, give_consent, make_world

SECRETS = {
    "internal reason": "内部原因仅学校可见XJ41",
    "return reason": "退回原因请补充XJ42",
    "note": "辅导记录保密内容XJ43",
    "plan": "一生一策方案正文XJ44",
    "other guardian": "王父亲XJ45",
    "other guardian phone": "13912345678",
    "guardian extra": "监护人工作单位XJ46",
    "student number": "SNXJ47",
    "national id": "31010120120501XJ48",
    "birth date": "2012-05-01",
    "contact summary": "电话沟通转介事宜",
    "other student": "隔壁同学XJ49",
    "other referral reason": "另一转介原因XJ50",
    "other referral student": "另一学生XJ51",
}
CHOSEN_GUARDIAN = ("王母亲", "13800001111")
REASON = "情绪低落两月，请专科评估XJ52"
PHQ_ITEM_TEXT_EN = "Little interest or pleasure in doing things"


def screening_response(
    session: Any, world: World, instrument: str, total: int, band: str
) -> Response:
    today = utcnow().date()
    campaign = create_campaign(
        session, None, name=f"筛查{instrument}", instruments=[instrument], schools=[world.school],
        grades=[world.student.grade], opens_on=today - dt.timedelta(days=5), closes_on=today,
    )  # fmt: skip
    answers = {f"{instrument}_{n}": 2 for n in range(1, 10 if instrument == "phq9" else 8)}
    response = Response(
        campaign_id=campaign.id, student_id=world.student.id, school_id=world.school.id,
        class_id=world.student.class_id, grade=world.student.grade, instrument=instrument,
        total_band=band, bands={"total": band}, tier=2, source="form",
        data={"answers": answers, "scores": {"scales": {"total": {
            "value": total, "band": band, "incomplete": False, "prorated": False}}}},
    )  # fmt: skip
    session.add(response)
    session.flush()
    return response


def leaky_world(session: Any, env: Any, *, answers: bool) -> tuple[World, Any]:
    """The world above and the referral (sent to partner A, phq9 chosen, mother chosen)."""
    world = make_world(session, env.settings, tier=2)  # red would need a safety plan first
    student = world.student
    student.guardians = [
        {"name": CHOSEN_GUARDIAN[0], "phone": CHOSEN_GUARDIAN[1], "relation": "mother"},
        {"name": SECRETS["other guardian"], "phone": SECRETS["other guardian phone"],
         "relation": "father", "workplace": SECRETS["guardian extra"]},
    ]  # fmt: skip
    student.student_number = SECRETS["student number"]
    student.national_id = SECRETS["national id"]
    student.birth_date = dt.date.fromisoformat(SECRETS["birth date"])
    give_consent(session, world, "partner_sharing")
    phq = screening_response(session, world, "phq9", 17, "moderately_severe")
    screening_response(session, world, "gad7", 19, "severe")  # not chosen
    sender = world.people["sender"]
    notes.write_note(
        session, sender, student,
        notes.NoteInput(session_date=utcnow().date(), note_type="individual",
                        duration_minutes=30, content=SECRETS["note"]), sign=True,
    )  # fmt: skip
    plan_in_effect(session, sender, student, summary=SECRETS["plan"],
                   signer=world.people["leader"])  # fmt: skip
    make_student(session, world.school, name=SECRETS["other student"])
    other = make_student(session, world.school, name=SECRETS["other referral student"], tier=3)
    give_consent_for(session, world, other)
    other_referral = services.create_draft(session, sender, other.id, services.ReferralInput(
        reason=SECRETS["other referral reason"]))  # fmt: skip
    services.send(session, sender, other_referral.id, world.partner_b.id)

    referral = draft(session, world, reason=REASON, internal_reason=SECRETS["internal reason"],
                     responses=[phq.id], answers=answers, guardian="mother")  # fmt: skip
    centre = world.people["centre"]
    services.submit(session, sender, referral.id)
    services.return_to_school(session, centre, referral.id, SECRETS["return reason"])
    services.submit(session, sender, referral.id)
    services.accept(session, centre, referral.id)
    services.send(session, centre, referral.id, world.partner_a.id)
    session.flush()
    return world, referral


def give_consent_for(session: Any, world: World, student: Any) -> None:
    from wellbeing.crisis.guardian_log import record_guardian_contact

    record_guardian_contact(
        session, world.people["sender"], student, relation="mother", channel="phone",
        contacted_at=utcnow() - dt.timedelta(hours=1), summary="另一学生的沟通",
        consent_purpose="referral", consent="given",
    )  # fmt: skip


def surfaces(client: Any, referral: Any, token: dict[str, str]) -> dict[str, str]:
    """Every answer the partner gets about the referral: pages, print, export, API, workbench."""
    base = f"/partner/referrals/{referral.id}"
    answers = {
        "queue page": client.get("/partner/referrals"),
        "referral page": client.get(base),
        "print": client.get(f"{base}/print"),
        "export": client.get(f"{base}/export.json"),
        "workbench": client.get("/"),
        "api queue": client.get("/api/v1/partner/referrals", headers=token),
        "api referral": client.get(f"/api/v1{base}", headers=token),
    }
    texts = {}
    for name, response in answers.items():
        assert response.status_code == 200, (name, response.status_code)
        text = response.get_data(as_text=True)
        if response.is_json or name == "export":  # JSON escapes: compare the decoded strings
            text = json.dumps(json.loads(text), ensure_ascii=False)
        texts[name] = text
    return texts


def _leaks(texts: dict[str, str]) -> list[str]:
    found = [f"{what} in {name}" for name, text in texts.items()
             for what, secret in SECRETS.items() if secret in text]  # fmt: skip
    gad7 = builtin_instruments()["gad7"].name
    found += [f"unchosen GAD-7 in {name}" for name, text in texts.items()
              if gad7.en in text or gad7.zh_CN in text or "gad7" in text]  # fmt: skip
    return found


@pytest.mark.parametrize("answers", [False, True])
def test_every_partner_surface_shows_the_minimum_dataset_only(client, db_session, env, answers):
    world, referral = leaky_world(db_session, env, answers=answers)
    token = bearer(db_session, world.users["partner_a"], "partner:referrals")
    login(client, world.users["partner_a"])
    texts = surfaces(client, referral, token)
    assert _leaks(texts) == []
    full = {"referral page", "print", "export", "api referral"}
    for name in full:
        text = texts[name]
        for chosen in (world.student.name, world.school.name, *CHOSEN_GUARDIAN, REASON):
            assert chosen in text, (chosen, name)
        assert ("17" in text) and (PHQ_ITEM_TEXT_EN in text) is (answers and "api" not in name
                                                                 and name != "export")  # fmt: skip
    for name in ("referral page", "print"):
        assert builtin_instruments()["phq9"].name.en in texts[name]
    assert world.student.name in texts["queue page"] and world.student.name in texts["api queue"]
    assert world.student.name not in texts["workbench"]  # counts and links, no names
    for name in ("queue page", "referral page", "print", "workbench"):  # no way into the record
        for link in ("/students/", "/plans/", "/notes/", "/referrals/", "/crisis"):
            assert f'href="{link}' not in texts[name], (name, link)


def test_after_every_partner_move_the_answers_stay_minimal(client, db_session, env):
    world, referral = leaky_world(db_session, env, answers=True)
    token = bearer(db_session, world.users["partner_a"], "partner:referrals")
    login(client, world.users["partner_a"])
    api = f"/api/v1/partner/referrals/{referral.id}"
    at = (utcnow() + dt.timedelta(days=2)).isoformat()
    moves = [
        client.post(f"{api}/acknowledge", headers=token, csrf=False),
        client.post(f"{api}/appointment", json={"at": at, "note": "门诊三楼"}, headers=token, csrf=False),
        client.post(f"{api}/attendance", json={"attended": True}, headers=token, csrf=False),
        client.post(f"{api}/feedback", json={"summary": "反馈摘要", "for_school": "建议"},
                    headers=token, csrf=False),
    ]  # fmt: skip
    for response in moves:
        assert response.status_code == 200, response.get_json()
        assert _leaks({"move": json.dumps(response.get_json(), ensure_ascii=False)}) == []
        assert world.student.name not in response.get_data(as_text=True)
    texts = surfaces(client, referral, token)
    assert _leaks(texts) == []
    assert "反馈摘要" in texts["referral page"] and "反馈摘要" in texts["api referral"]


def test_the_partners_emails_and_notices_carry_no_data(client, db_session, env):
    from wellbeing.notify.models import Notice, OutboxMessage

    world, _referral = leaky_world(db_session, env, answers=True)
    liaison = world.users["partner_a"]
    notices = db_session.query(Notice).filter_by(user_id=liaison.id).all()
    assert notices
    emails = db_session.query(OutboxMessage).filter_by(user_id=liaison.id).all()
    assert emails
    texts = {"notices": repr([n.params for n in notices]),
             "emails": repr([(e.subject, e.body) for e in emails])}  # fmt: skip
    assert _leaks(texts) == []
    assert all(world.student.name not in t and REASON not in t for t in texts.values())


def test_consent_withdrawn_every_surface_shows_withdrawn_and_no_data(client, db_session, env):
    world, referral = leaky_world(db_session, env, answers=True)
    token = bearer(db_session, world.users["partner_a"], "partner:referrals")
    login(client, world.users["partner_a"])
    assert world.student.name in surfaces(client, referral, token)["referral page"]
    give_consent(db_session, world, "partner_sharing", "withdrawn")
    base = f"/partner/referrals/{referral.id}"
    pages = {name: client.get(url) for name, url in (
        ("queue", "/partner/referrals"), ("page", base), ("print", f"{base}/print"),
        ("export", f"{base}/export.json"))}  # fmt: skip
    api = client.get(f"/api/v1{base}", headers=token)
    api_queue = client.get("/api/v1/partner/referrals", headers=token)
    assert api.status_code == 200
    assert api.get_json() == {"id": str(referral.id), "reference": str(referral.id)[:8].upper(),
                              "access": "withdrawn", "referral": None}  # fmt: skip
    assert api_queue.get_json()["referrals"] == []
    assert api_queue.get_json()["withdrawn"][0]["id"] == str(referral.id)
    texts = {name: r.get_data(as_text=True) for name, r in pages.items()}
    texts |= {"api": api.get_data(as_text=True), "api queue": api_queue.get_data(as_text=True)}
    for name in ("page", "print", "export"):
        assert pages[name].status_code == 200 and "Withdrawn" in texts[name]
    for text in texts.values():
        for chosen in (world.student.name, *CHOSEN_GUARDIAN, REASON, "phq9"):
            assert chosen not in text
    assert _leaks(texts) == []


def test_a_liaison_of_the_school_role_sees_nothing(client, db_session, env):
    """A person with a school role is never served the portal (403), whatever they hold."""
    world, referral = leaky_world(db_session, env, answers=False)
    for role in ("sender", "centre", "leader"):
        login(client, world.users[role])
        assert client.get(f"/partner/referrals/{referral.id}").status_code == 403
    assert Role.PARTNER  # the partner role is the only one the portal serves


API_STEPS = {
    "acknowledge": None, "decline": {"reason": "本院已满"}, "attended": {"attended": True},
    "missed": {"attended": False}, "feedback": {"summary": "反馈摘要"}, "appointment": "at",
}  # fmt: skip
STEP = st.one_of(
    st.tuples(st.just("api"), st.sampled_from(sorted(API_STEPS))),
    st.tuples(st.just("consent"), st.sampled_from(("referral", "partner_sharing")),
              st.sampled_from(("withdrawn", "given"))),
)  # fmt: skip


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(steps=st.lists(STEP, min_size=1, max_size=7))
def test_random_walks_through_the_partner_api_never_leak(client, db_session, env, steps):
    """Whatever the liaison does through the API and whatever the guardian decides, every
    answer holds the minimum dataset only, exactly while the partner may see the referral."""
    from wellbeing.referrals.queries import partner_may_see

    world, referral = leaky_world(db_session, env, answers=True)
    token = bearer(db_session, world.users["partner_a"], "partner:referrals")
    other = bearer(db_session, world.users["partner_b"], "partner:referrals")
    login(client, world.users["partner_a"])
    api = f"/api/v1/partner/referrals/{referral.id}"
    for step in steps:
        if step[0] == "consent":
            give_consent(db_session, world, step[1], step[2])
        else:
            body = API_STEPS[step[1]]
            if body == "at":
                body = {"at": (utcnow() + dt.timedelta(days=2)).isoformat()}
            move = "attendance" if step[1] in ("attended", "missed") else step[1]
            response = client.post(f"{api}/{move}", json=body, headers=token, csrf=False) if body else (
                client.post(f"{api}/{move}", headers=token, csrf=False))  # fmt: skip
            assert response.status_code in (200, 404, 409, 422), response.get_json()
        db_session.refresh(referral)
        visible = partner_may_see(db_session, _principal(db_session, world), referral)
        answer = client.get(api, headers=token)
        page = client.get(f"/partner/referrals/{referral.id}")
        texts = {"api": json.dumps(answer.get_json(), ensure_ascii=False),
                 "page": page.get_data(as_text=True)}  # fmt: skip
        assert _leaks(texts) == []
        for text in texts.values():
            assert (world.student.name in text) is visible, (step, referral.state)
        assert client.get(api, headers=other).status_code == 404


def _principal(session: Any, world: World) -> Any:
    from wellbeing.auth.services import build_principal

    return build_principal(session, world.users["partner_a"])
