"""The partner portal: the liaison's queue, a referral's page, every move through the portal
with its confirmation (what happened, who was told), clear refusals, and the end of access."""

from __future__ import annotations

import datetime as dt
import re

from wellbeing.core.audit import AuditAction
from wellbeing.db import utcnow
from wellbeing.notify.models import Notice
from wellbeing.referrals import services
from wellbeing.referrals.models import Appointment, Feedback, ReferralState

from ..conftest import login
from .helpers import give_consent, make_world, walk_to

S = ReferralState
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _same(html: str) -> str:
    """The page without its CSRF tokens (signed with the time: they differ by the second)."""
    return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token"', html)


def _page(client, referral):  # type: ignore[no-untyped-def]
    response = client.get(f"/partner/referrals/{referral.id}")
    return response.status_code, response.get_data(as_text=True)


def test_the_queue_groups_what_waits_for_the_liaison(client, db_session, env, audit_entries):
    world = make_world(db_session, env.settings)
    sent = walk_to(db_session, world, S.SENT)
    login(client, world.users["partner_a"])
    response = client.get("/partner/referrals")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert world.student.name in html
    assert str(sent.id)[:8].upper() in html
    assert 'data-testid="group-acknowledge"' in html
    [entry] = audit_entries(AuditAction.REFERRAL_VIEW)
    assert entry.detail["view"] == "partner_queue"
    # the other partner's liaison sees nothing of it
    login(client, world.users["partner_b"])
    assert world.student.name not in client.get("/partner/referrals").get_data(as_text=True)


def test_the_whole_partner_path_through_the_portal(client, db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.SENT)
    login(client, world.users["partner_a"])
    url = f"/partner/referrals/{referral.id}"
    status, html = _page(client, referral)
    assert status == 200 and 'data-testid="do-acknowledge"' in html

    response = client.post(f"{url}/acknowledge", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "You acknowledged the referral." in html
    assert "1 psychology teacher of the school" in html and "1 counsellor" in html
    db_session.refresh(referral)
    assert referral.state == S.ACKNOWLEDGED

    when = (utcnow() + dt.timedelta(days=3)).astimezone(env.settings.tz)
    response = client.post(
        f"{url}/appointment",
        data={"at": when.strftime("%Y-%m-%dT%H:%M"), "note": "儿童精神科门诊二楼"},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "Appointment recorded for " + when.strftime("%Y-%m-%d %H:%M") in html
    assert "儿童精神科门诊二楼" in html
    db_session.refresh(referral)
    assert referral.state == S.SCHEDULED

    response = client.post(
        f"{url}/attendance", data={"attendance": "missed"}, follow_redirects=True
    )
    assert "did not come" in response.get_data(as_text=True)
    db_session.refresh(referral)
    assert referral.state == S.MISSED
    client.post(f"{url}/appointment", data={"at": when.strftime("%Y-%m-%dT%H:%M")})
    client.post(f"{url}/attendance", data={"attendance": "attended"})
    db_session.refresh(referral)
    assert referral.state == S.ATTENDED

    response = client.post(
        f"{url}/feedback",
        data={"summary": "中度抑郁发作，已开始门诊治疗", "for_school": "减轻课业压力",
              "for_family": "每周陪同复诊", "return_advice": "两周后可复学",
              "advises_return": "y"},
        follow_redirects=True,
    )  # fmt: skip
    html = response.get_data(as_text=True)
    assert "Feedback sent to the school" in html and "减轻课业压力" in html
    db_session.refresh(referral)
    assert referral.state == S.FEEDBACK
    feedback = db_session.query(Feedback).filter_by(referral_id=referral.id).one()
    assert feedback.advises_return and feedback.summary == "中度抑郁发作，已开始门诊治疗"
    assert db_session.query(Appointment).filter_by(referral_id=referral.id).count() == 2
    # the sender was told of the feedback in the app
    notices = db_session.query(Notice).filter_by(user_id=world.users["sender"].id).all()
    assert any(n.params.get("state") == S.FEEDBACK for n in notices)


def test_an_illegal_move_is_refused_clearly_and_changes_nothing(client, db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.SENT)
    login(client, world.users["partner_a"])
    response = client.post(f"/partner/referrals/{referral.id}/feedback", data={"summary": "x"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "cannot" in html or "not allowed" in html or "cannot go from" in html.lower()
    db_session.refresh(referral)
    assert referral.state == S.SENT
    assert db_session.query(Feedback).count() == 0


def test_form_errors_are_shown_beside_the_form(client, db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.SENT)
    login(client, world.users["partner_a"])
    response = client.post(f"/partner/referrals/{referral.id}/decline", data={"reason": ""})
    assert response.status_code == 200
    assert "Write why the referral is declined." in response.get_data(as_text=True)
    db_session.refresh(referral)
    assert referral.state == S.SENT


def test_a_past_appointment_is_refused(client, db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.ACKNOWLEDGED)
    login(client, world.users["partner_a"])
    past = (utcnow() - dt.timedelta(days=5)).astimezone(env.settings.tz)
    response = client.post(f"/partner/referrals/{referral.id}/appointment",
                           data={"at": past.strftime("%Y-%m-%dT%H:%M")})  # fmt: skip
    assert "appointment to come" in response.get_data(as_text=True)
    db_session.refresh(referral)
    assert referral.state == S.ACKNOWLEDGED


def test_decline_goes_back_to_the_centre(client, db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.SENT)
    login(client, world.users["partner_a"])
    response = client.post(f"/partner/referrals/{referral.id}/decline",
                           data={"reason": "本院儿童门诊已满"}, follow_redirects=True)  # fmt: skip
    html = response.get_data(as_text=True)
    assert "goes back to the district counselling centre" in html
    assert "Declined by your organisation" in html and world.student.name not in html
    db_session.refresh(referral)
    assert referral.state == S.DECLINED


def test_another_organisation_gets_the_404_of_a_referral_that_does_not_exist(
    client, db_session, env, audit_entries
):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.SENT)
    login(client, world.users["partner_b"])
    unknown = client.get(f"/partner/referrals/{UNKNOWN}")
    other = client.get(f"/partner/referrals/{referral.id}")
    assert unknown.status_code == other.status_code == 404
    unknown_html = _same(unknown.get_data(as_text=True).replace(UNKNOWN, "ID"))
    assert unknown_html == _same(other.get_data(as_text=True).replace(str(referral.id), "ID"))
    assert client.post(f"/partner/referrals/{referral.id}/acknowledge").status_code == 404
    db_session.refresh(referral)
    assert referral.state == S.SENT
    assert audit_entries(AuditAction.ACCESS_DENIED)


def test_consent_withdrawn_cuts_access_at_the_next_request(client, db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.SCHEDULED)
    login(client, world.users["partner_a"])
    status, html = _page(client, referral)
    assert status == 200 and world.student.name in html
    give_consent(db_session, world, "referral", "withdrawn")
    status, html = _page(client, referral)
    assert status == 200 and 'data-testid="access-state"' in html and "Withdrawn" in html
    assert world.student.name not in html and "王母" not in html
    queue = client.get("/partner/referrals").get_data(as_text=True)
    assert world.student.name not in queue and 'data-testid="withdrawn-row"' in queue
    assert client.post(f"/partner/referrals/{referral.id}/attendance",
                       data={"attendance": "attended"}).status_code == 404  # fmt: skip


def test_access_ends_a_configured_time_after_closing(client, db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.CLOSED)
    login(client, world.users["partner_a"])
    assert world.student.name in _page(client, referral)[1]
    referral.access_expires_at = utcnow() - dt.timedelta(minutes=1)
    db_session.flush()
    status, html = _page(client, referral)
    assert status == 200 and "Access ended" in html and world.student.name not in html


def test_withdrawn_by_the_sender_shows_withdrawn_only(client, db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.SENT)
    services.withdraw(db_session, world.people["sender"], referral.id, "家长改为自行就医")
    login(client, world.users["partner_a"])
    status, html = _page(client, referral)
    assert status == 200 and "Withdrawn" in html
    assert world.student.name not in html and "家长改为自行就医" not in html


def test_the_liaisons_workbench_shows_what_waits_without_names(client, db_session, env):
    world = make_world(db_session, env.settings)
    sent = walk_to(db_session, world, S.SENT)
    walk_to(db_session, world, S.ATTENDED)
    login(client, world.users["partner_a"])
    html = client.get("/").get_data(as_text=True)
    for key, count in (("acknowledge", 1), ("schedule", 0), ("attendance", 0), ("feedback", 1)):
        assert f'data-testid="count-partner_{key}">{count}<' in html, key
    assert f"/partner/referrals/{sent.id}" in html and world.student.name not in html
    login(client, world.users["partner_b"])
    assert 'data-testid="count-partner_acknowledge">0<' in client.get("/").get_data(as_text=True)


def test_portal_pages_are_chinese_for_a_zh_cn_liaison(client, db_session, env):
    """tests/test_zh_pages.py's check on every portal page: no English, no raw code."""
    from ..test_zh_pages import english_on

    world = make_world(db_session, env.settings)
    liaison = world.users["partner_a"]
    data = [world.student.name, world.school.name, world.partner_a.name, liaison.display_name,
            liaison.username, "王母", "13800000000"]  # fmt: skip
    referrals = {state: walk_to(db_session, world, state)
                 for state in (S.SENT, S.ACKNOWLEDGED, S.SCHEDULED, S.ATTENDED, S.FEEDBACK)}  # fmt: skip
    withdrawn = walk_to(db_session, world, S.SENT)
    services.withdraw(db_session, world.people["sender"], withdrawn.id, "家长改为自行就医")
    login(client, liaison)
    client.post("/locale", data={"locale": "zh_CN", "next": "/"})
    urls = ["/", "/partner/referrals", f"/partner/referrals/{withdrawn.id}"]
    for referral in referrals.values():
        urls += [f"/partner/referrals/{referral.id}", f"/partner/referrals/{referral.id}/print"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        refs = [str(r.id)[:8].upper() for r in [*referrals.values(), withdrawn]]
        assert english_on(html, *data, *refs) == [], url
    html = client.get(f"/partner/referrals/{referrals[S.SENT].id}").get_data(as_text=True)
    assert "确认接收转介" in html and "转介原因" in html
    response = client.post(f"/partner/referrals/{referrals[S.SENT].id}/acknowledge",
                           follow_redirects=True)  # fmt: skip
    html = response.get_data(as_text=True)
    assert "您已确认接收该转介。" in html and "学校心理教师 1 人" in html
    assert english_on(html, *data, *refs) == []


def test_a_declined_referral_sent_elsewhere_stays_declined_for_the_first_partner(
    client, db_session, env
):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.DECLINED)
    services.send(db_session, world.people["centre"], referral.id, world.partner_b.id)
    login(client, world.users["partner_a"])
    status, html = _page(client, referral)
    assert status == 200 and "Declined by your organisation" in html
    assert world.student.name not in html and "本院儿童门诊已满" not in html
    login(client, world.users["partner_b"])
    status, html = _page(client, referral)
    assert status == 200 and world.student.name in html and "本院儿童门诊已满" not in html


def test_a_liaison_must_sign_in_with_a_second_factor(client, db_session, env):
    """Issue 15 item 1: the partner role needs a second factor; without it, no portal page."""
    from wellbeing.auth.mfa import mfa_required

    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.SENT)
    assert mfa_required(world.users["partner_a"])
    login(client, world.users["partner_a"], mfa_passed=False)
    for url in ("/partner/referrals", f"/partner/referrals/{referral.id}"):
        response = client.get(url)
        assert response.status_code == 302 and "/partner" not in response.headers["Location"]
        assert world.student.name not in response.get_data(as_text=True)
