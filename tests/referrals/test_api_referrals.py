"""``/api/v1``: the partner's queue, a referral and the partner's moves with partner-scoped
tokens, the school's reads; 409 for illegal moves, identical 404s outside scope, every answer
as the OpenAPI document describes it."""

from __future__ import annotations

import datetime as dt

from wellbeing.db import utcnow
from wellbeing.referrals.models import Feedback, ReferralState

from ..api.helpers import bearer, schema_errors
from .helpers import make_world, walk_to

S = ReferralState
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _post(client, url, token, body=None):  # type: ignore[no-untyped-def]
    return client.post(url, json=body, headers=token, csrf=False) if body is not None else (
        client.post(url, headers=token, csrf=False)
    )  # fmt: skip


def test_the_partner_works_a_referral_through_the_api(client, db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.SENT)
    token = bearer(db_session, world.users["partner_a"], "partner:referrals")
    base = f"/api/v1/partner/referrals/{referral.id}"

    queue = client.get("/api/v1/partner/referrals", headers=token)
    assert queue.status_code == 200 and schema_errors("PartnerQueue", queue.get_json()) == []
    [item] = queue.get_json()["referrals"]
    assert item["id"] == str(referral.id) and item["waiting_for"] == "acknowledge"
    assert item["name"] == world.student.name

    one = client.get(base, headers=token)
    assert one.status_code == 200 and schema_errors("PartnerReferral", one.get_json()) == []
    assert one.get_json()["referral"]["dataset"]["reason"] == referral.reason

    moved = _post(client, f"{base}/acknowledge", token)
    assert moved.status_code == 200 and schema_errors("PartnerMoveResult", moved.get_json()) == []
    assert moved.get_json()["state"] == "acknowledged"
    assert moved.get_json()["told"] == {"sender": 1, "centre": 1}
    at = (utcnow() + dt.timedelta(days=2)).replace(microsecond=0).isoformat()
    assert (
        _post(client, f"{base}/appointment", token, {"at": at, "note": "门诊"}).status_code == 200
    )
    assert (
        _post(client, f"{base}/attendance", token, {"attended": False}).get_json()["state"]
        == "missed"
    )
    assert _post(client, f"{base}/appointment", token, {"at": at}).status_code == 200
    assert _post(client, f"{base}/attendance", token, {"attended": True}).status_code == 200
    feedback = {"summary": "中度抑郁发作", "for_family": "陪同复诊", "advises_return": True}
    done = _post(client, f"{base}/feedback", token, feedback)
    assert done.status_code == 200 and done.get_json()["state"] == "feedback"
    row = db_session.query(Feedback).filter_by(referral_id=referral.id).one()
    assert row.summary == "中度抑郁发作" and row.advises_return

    after = client.get(base, headers=token).get_json()
    assert schema_errors("PartnerReferral", after) == []
    assert after["referral"]["feedback"]["for_family"] == "陪同复诊"
    assert [a["attendance"] for a in after["referral"]["appointments"]] == ["missed", "attended"]


def test_illegal_moves_are_409_and_change_nothing(client, db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.SENT)
    token = bearer(db_session, world.users["partner_a"], "partner:referrals")
    base = f"/api/v1/partner/referrals/{referral.id}"
    for url, body in ((f"{base}/attendance", {"attended": True}),
                      (f"{base}/feedback", {"summary": "x"})):  # fmt: skip
        response = _post(client, url, token, body)
        assert response.status_code == 409
        assert response.get_json()["error"]["code"] == "illegal_transition"
        assert schema_errors("Error", response.get_json()) == []
    assert _post(client, f"{base}/acknowledge", token).status_code == 200
    again = _post(client, f"{base}/acknowledge", token)
    assert again.status_code == 409
    db_session.refresh(referral)
    assert referral.state == S.ACKNOWLEDGED


def test_refused_input_is_400_415_or_422(client, db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.ACKNOWLEDGED)
    token = bearer(db_session, world.users["partner_a"], "partner:referrals")
    url = f"/api/v1/partner/referrals/{referral.id}/appointment"
    assert _post(client, url, token, {"at": "tomorrow"}).status_code == 400
    assert _post(client, url, token, {"at": "2030-01-01T09:00:00"}).status_code == 400  # no zone
    assert _post(client, url, token, {"when": "2030-01-01T09:00:00Z"}).status_code == 400
    plain = client.post(
        url, data="at=1", headers=token | {"Content-Type": "text/plain"}, csrf=False
    )
    assert plain.status_code == 415
    past = (utcnow() - dt.timedelta(days=3)).isoformat()
    refused = _post(client, url, token, {"at": past})
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "referral_refused"
    db_session.refresh(referral)
    assert referral.state == S.ACKNOWLEDGED


def test_another_organisation_gets_the_404_of_an_unknown_referral(client, db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.SENT)
    token = bearer(db_session, world.users["partner_b"], "partner:referrals")
    for suffix, body in (("", None), ("/acknowledge", None), ("/decline", {"reason": "满"})):
        answers = []
        for rid in (UNKNOWN, str(referral.id)):
            url = f"/api/v1/partner/referrals/{rid}{suffix}"
            response = (
                client.get(url, headers=token) if not suffix else _post(client, url, token, body)
            )
            answers.append((response.status_code, response.get_json()))
        assert answers[0] == answers[1] and answers[0][0] == 404, answers
    assert client.get("/api/v1/partner/referrals", headers=token).get_json()["referrals"] == []
    db_session.refresh(referral)
    assert referral.state == S.SENT


def test_a_token_without_the_partner_scope_is_refused(client, db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.SENT)
    teacher = bearer(db_session, world.users["sender"], "referrals:read")
    url = f"/api/v1/partner/referrals/{referral.id}"
    assert client.get(url, headers=teacher).status_code == 403
    assert _post(client, f"{url}/acknowledge", teacher).status_code == 403
    assert client.get(url).status_code == 401


def test_the_school_reads_a_students_referrals(client, db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.FEEDBACK)
    url = f"/api/v1/students/{world.student.id}/referrals"
    token = bearer(db_session, world.users["sender"], "referrals:read")
    response = client.get(url, headers=token)
    assert response.status_code == 200
    body = response.get_json()
    assert schema_errors("StudentReferralList", body) == []
    [item] = body["referrals"]
    assert item["id"] == str(referral.id) and item["state"] == "feedback"
    assert item["feedback"]["summary"] == "诊断为中度抑郁发作"
    assert item["partner"] == world.partner_a.name
    for role in ("leader", "centre"):
        got = client.get(url, headers=bearer(db_session, world.users[role], "referrals:read"))
        assert got.status_code == 200 and got.get_json()["referrals"][0]["id"] == str(referral.id)
    other = bearer(db_session, world.users["other_psych"], "referrals:read")
    hidden = client.get(url, headers=other)
    unknown = client.get(f"/api/v1/students/{UNKNOWN}/referrals", headers=other)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.get_json() == unknown.get_json()
    partner = bearer(db_session, world.users["partner_a"], "partner:referrals")
    assert client.get(url, headers=partner).status_code == 403


# --------------------------------------------------------------------------- for schemathesis


def schemathesis_world(session, settings, teacher, student):  # type: ignore[no-untyped-def]
    """For tests/api/test_schemathesis.py: a liaison and, per partner operation, a referral of
    ``student`` (``teacher``'s) in the state that operation needs; returns the liaison, the
    pinned ids per operation path and a valid body per write operation."""
    from wellbeing.auth.services import build_principal
    from wellbeing.core.authz import Role
    from wellbeing.crisis.guardian_log import record_guardian_contact
    from wellbeing.referrals import services

    from ..factories import make_user
    from .helpers import liaison, make_partner

    sender = build_principal(session, teacher)
    centre = build_principal(session, make_user(session, settings, Role.COUNSELLOR))
    partner = make_partner(session, _district(session, student), "协作医院")
    person = liaison(session, settings, partner)
    who = build_principal(session, person)
    student.guardians = [{"name": "母亲", "phone": "13800000000", "relation": "mother"}]
    record_guardian_contact(
        session, sender, student, relation="mother", channel="phone",
        contacted_at=utcnow() - dt.timedelta(hours=1), summary="同意", consent_purpose="referral",
        consent="given",
    )  # fmt: skip
    at = (utcnow() + dt.timedelta(days=3)).replace(microsecond=0).isoformat()
    steps = {
        "": 3, "/acknowledge": 3, "/decline": 3, "/appointment": 4, "/attendance": 5,
        "/feedback": 6,
    }  # fmt: skip
    bodies = {"/decline": {"reason": "本院已满"}, "/appointment": {"at": at},
              "/attendance": {"attended": True}, "/feedback": {"summary": "反馈"}}  # fmt: skip
    moves = [
        lambda r: services.submit(session, sender, r), lambda r: services.accept(session, centre, r),
        lambda r: services.send(session, centre, r, partner.id),
        lambda r: services.acknowledge(session, who, r),
        lambda r: services.schedule(session, who, r, utcnow() + dt.timedelta(days=2)),
        lambda r: services.record_attendance(session, who, r, True),
    ]  # fmt: skip
    ids, write_bodies = {}, {}
    for suffix, count in steps.items():
        referral = services.create_draft(session, sender, student.id,
                                         services.ReferralInput(reason="原因"))  # fmt: skip
        for move in moves[:count]:
            move(referral.id)
        path = "/partner/referrals/{referral_id}" + suffix
        ids[f"{path}:referral_id"] = str(referral.id)
        if suffix in bodies:
            write_bodies[path] = bodies[suffix]
    session.flush()
    return person, ids, write_bodies


def _district(session, student):  # type: ignore[no-untyped-def]
    from wellbeing.orgs.models import School

    return session.get(School, student.school_id).district_id
