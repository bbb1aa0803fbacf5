"""Issue 14 item 6 in a real browser (zh_CN): from the growth record to the guardian-contact log,
a contact recorded with a consent entry (the consent table shows it), a withdrawal, and a
guardian's details corrected by hand.

With ``WELLBEING_SCREENS=<dir>`` the log page and the correction form are also saved as
screenshots (1280×800 and 390×844) for a person to look at."""

from __future__ import annotations

from wellbeing.crisis.consent import current_consent
from wellbeing.students.models import Student

from ..factories import make_school, make_student, staff_set
from .helpers import flash, shoot, sign_in


def _world(live_server):  # type: ignore[no-untyped-def]
    with live_server.db.session() as session:
        school = make_school(session)
        users = staff_set(session, live_server.env.settings, school)
        student = make_student(session, school, name="周小雨")
        student.guardians = [{"name": "周大海", "phone": "13800138000", "relation": None}]
        return {"student_id": student.id, "psych": users["psych_teacher"].username}


def _contact(page, relation, consent, purpose, text):  # type: ignore[no-untyped-def]
    page.select_option("select[name=relation]", relation)
    page.select_option("select[name=channel]", "phone")
    page.fill("textarea[name=summary]", text)
    page.check(f"input[name=consent][value={consent}]")
    page.check(f"input[name=consent_purpose][value={purpose}]")
    with page.expect_navigation():
        page.click("#guardian-contact-submit")


def test_guardian_log_consent_and_correction(live_server, browser_page):
    w = _world(live_server)
    base, page = live_server.url, browser_page
    sign_in(page, base, w["psych"])
    page.goto(f"{base}/students/{w['student_id']}")
    page.click("#guardian-log-link")
    assert "监护人联系" in page.locator("h1").inner_text()

    _contact(page, "father", "given", "referral", "电话告知转介安排，父亲同意")
    assert "知情同意已记录" in flash(page)
    _contact(page, "mother", "given", "partner_sharing", "母亲同意与医院共享筛查结果")
    _contact(page, "mother", "withdrawn", "partner_sharing", "母亲来电撤回同意")
    table = page.locator("#guardian-consent").inner_text()
    assert "撤回同意" in table and "已同意" in table and "转介" in table
    with live_server.db.session() as session:
        shared = current_consent(session, w["student_id"], "partner_sharing")
        assert shared["mother"].decision == "withdrawn"
    shoot(page, "guardian-log")

    page.goto(f"{base}/students/{w['student_id']}")
    page.click("#guardian-correct-0")
    assert page.input_value("input[name=phone]") == "13800138000"
    page.fill("input[name=phone]", "13911112222")
    page.fill("input[name=relation]", "父亲")
    shoot(page, "guardian-correct")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "监护人信息已更正" in flash(page)
    with live_server.db.session() as session:
        student = session.get(Student, w["student_id"])
        assert student.guardians[0]["phone"] == "13911112222"
    shoot(page, "record-guardians")
