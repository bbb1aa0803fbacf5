"""Issue 12 items 5 and 6 in a real browser (zh_CN): the confirmations a user reads say exactly
what was done (checked against the rows written), the checklist's fact selects start empty and
are required, "follow-up arranged" creates the follow-up at the chosen time, a step-down from
red says it waits (and for whom), its approval settles the open crisis, and the closed crisis
stays in the student's record.

With ``WELLBEING_SCREENS=<dir>`` the crisis page and the close form are also saved as
screenshots (1280×800 and 390×844) for a person to look at."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from wellbeing.alerts.models import AlertInbox
from wellbeing.crisis.models import STEPS, Crisis
from wellbeing.followups.models import FollowUp
from wellbeing.orgs.models import SchoolClass

from ..factories import make_school, make_student, staff_set
from .helpers import shoot, sign_in


def _world(live_server):  # type: ignore[no-untyped-def]
    with live_server.db.session() as session:
        school = make_school(session)
        users = staff_set(session, live_server.env.settings, school)
        users["psych_teacher"].email = "psych@school.example"
        klass = session.get(SchoolClass, users["class_teacher"].memberships[0].class_id)
        student = make_student(session, school, klass, name="周小雨")
        return {
            "student_id": str(student.id),
            **{role: (u.username, u.id) for role, u in users.items()},
        }


def test_crisis_messages_tell_the_truth(live_server, browser_page):
    w = _world(live_server)
    base, page = live_server.url, browser_page

    # 1. An urgent concern: the message names who was alerted, how, and who waits.
    sign_in(page, base, w["class_teacher"][0])
    page.goto(f"{base}/concerns/new")
    assert page.input_value("select[name=category]") == ""  # nothing pre-chosen
    assert page.locator("input[name=urgency]:checked").count() == 0
    page.select_option("select[name=student_id]", w["student_id"])
    page.select_option("select[name=category]", "self_harm_signs")
    page.check("input[name=urgency][value=immediate_danger]")
    page.fill("textarea[name=text]", "课间说不想活了")
    page.click("#concern-submit")
    page.wait_for_url("**/concerns/mine")
    message = page.locator("main").inner_text()
    assert "已即时提醒：心理教师（1人）：站内收件箱和邮件。" in message
    assert "如无人确认，将于" in message and "提醒分管校长" in message
    with live_server.db.session() as session:
        assert set(session.scalars(select(AlertInbox.user_id))) == {w["psych_teacher"][1]}

    # 2. The checklist: fact selects start empty and are required; the follow-up is created.
    sign_in(page, base, w["psych_teacher"][0])
    page.goto(f"{base}/crisis")
    page.locator("#open-crises a[id^=crisis-]").first.click()
    page.click("#step-submit-acknowledge")
    page.wait_for_selector("#step-acknowledge.step-done")
    form = "#step-form-guardian_notified"
    for name in ("relation", "channel"):
        assert page.input_value(f"{form} select[name={name}]") == ""
        assert page.locator(f"{form} select[name={name}][required]").count() == 1
    assert page.input_value("#step-form-referral select[name=outcome]") == ""
    shoot(page, "crisis-checklist")
    page.fill(f"{form} textarea[name=summary]", "已电话告知父亲")
    page.click("#step-submit-guardian_notified")  # the browser refuses: no guardian chosen
    assert page.locator("#step-guardian_notified.step-open").count() == 1
    page.select_option(f"{form} select[name=relation]", "father")
    page.select_option(f"{form} select[name=channel]", "phone")
    page.click("#step-submit-guardian_notified")
    page.wait_for_selector("#step-guardian_notified.step-done")
    assert "父亲" in page.locator("#step-guardian_notified").inner_text()
    for step in ("assessment", "safety_plan"):
        page.click(f"#step-submit-{step}")
        page.wait_for_selector(f"#step-{step}.step-done")
    page.select_option("#step-form-referral select[name=outcome]", "made")
    page.click("#step-submit-referral")
    page.wait_for_selector("#step-referral.step-done")
    due = (dt.datetime.now() + dt.timedelta(days=1)).replace(hour=9, minute=30)
    page.fill(
        "#step-form-followup_scheduled input[name=followup_due]", due.strftime("%Y-%m-%dT%H:%M")
    )
    page.click("#step-submit-followup_scheduled")
    page.wait_for_selector("#step-followup_scheduled.step-done")
    assert "随访已安排在" in page.locator("main").inner_text()
    assert "09:30" in page.locator("main").inner_text()
    with live_server.db.session() as session:
        crisis = session.scalar(select(Crisis))
        followup = session.scalar(select(FollowUp).where(FollowUp.source_id == crisis.id))
        assert followup is not None and followup.owner_id == w["psych_teacher"][1]
    assert page.locator(".crisis-step.step-done").count() == len(STEPS)
    shoot(page, "crisis-close-form")

    # 3. A step-down from red only waits; the message says for whom.
    page.goto(f"{base}/students/{w['student_id']}/tier")
    page.select_option("[data-testid=tier-form] select[name=tier]", "1")
    page.fill("[data-testid=tier-form] textarea[name=reason]", "安全计划有效")
    page.click("[data-testid=tier-form] button[type=submit]")
    page.wait_for_load_state()
    message = page.locator("main").inner_text()
    assert "尚未生效" in message and "可批准者：分管校长（1人）" in message

    # 4. The leader approves and chooses what happens to the open crisis: close it.
    sign_in(page, base, w["school_leader"][0])
    page.goto(f"{base}/tier/stepdowns")
    assert page.locator("input[name=crisis]:checked").count() == 0
    shoot(page, "stepdown-queue")
    page.check("input[name=crisis][value=close]")
    page.fill("[data-testid=stepdown-crisis] textarea[name=summary]", "危机解除，转为一般关注")
    page.locator("[data-testid=stepdown-queue] button[type=submit]").first.click()
    page.wait_for_load_state()
    message = page.locator("main").inner_text()
    assert "降级已批准" in message and "危机已结案" in message
    with live_server.db.session() as session:
        crisis = session.scalar(select(Crisis))
        assert crisis.state == "closed" and crisis.closed_tier == 1

    # 5. The closed crisis stays in the record, with its history.
    page.goto(f"{base}/students/{w['student_id']}")
    record = page.locator(f"#record-crisis-{crisis.id}")
    assert record.count() == 1
    record.locator("summary").click()
    text = record.inner_text()
    assert "危机解除，转为一般关注" in text and text.count("✓") == len(STEPS)
    shoot(page, "record-closed-crisis")
