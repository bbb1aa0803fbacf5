"""Issue 12 items 1, 2 and 4 in a real browser (zh_CN).

1. A hotline call is saved with the one topic the counsellor ticked (every topic box was
   ``required``: the browser demanded all eight, and the call went to the school as self-harm).
2. A campaign starts with no instrument ticked, and a PHQ-9-only campaign can be made.
4. The kiosk refuses an already screened student when the teacher opens it (the teacher reads
   which numbers, in Chinese); answers that cannot be recorded at submit are kept for the
   psychology teacher, and the next student gets their turn.

With ``WELLBEING_SCREENS=<dir>`` the pages are also saved as screenshots (1280×800 and
390×844) for a person to look at."""

from __future__ import annotations

import datetime as dt

import pyotp
from sqlalchemy import select

from wellbeing.concerns.models import HotlineCall
from wellbeing.orgs.models import School
from wellbeing.screening.clock import local_today
from wellbeing.screening.models import Campaign, HeldAnswers, KioskSession, Response
from wellbeing.screening.services import create_campaign, record_answers
from wellbeing.students.models import Student

from ..factories import make_class, make_school, make_student, staff_set
from .helpers import flash, shoot, sign_in

TOTP_SECRET = pyotp.random_base32()


def _world(live_server, students: int = 0):  # type: ignore[no-untyped-def]
    with live_server.db.session() as session:
        school = make_school(session)
        users = staff_set(session, live_server.env.settings, school)
        users["counsellor"].totp_secret = TOTP_SECRET
        users["counsellor"].totp_enabled = True
        klass = make_class(session, school, grade=8)
        kids = [
            make_student(session, school, klass, student_number=f"J2026{n:03d}")
            for n in range(students)
        ]
        return {
            "school_id": school.id,
            "student_ids": [k.id for k in kids],
            "numbers": [k.student_number for k in kids],
            **{role: u.username for role, u in users.items()},
        }


def test_a_hotline_call_with_one_topic(live_server, browser_page):  # type: ignore[no-untyped-def]
    world = _world(live_server)
    base, page = live_server.url, browser_page
    sign_in(page, base, world["counsellor"], totp_secret=TOTP_SECRET)
    page.goto(f"{base}/hotline/new")
    boxes = page.locator("input[type=checkbox][name=topics]")
    assert boxes.count() == 8
    assert all(boxes.nth(i).get_attribute("required") is None for i in range(8))
    assert not any(boxes.nth(i).is_checked() for i in range(8))
    page.fill("input[name=duration_minutes]", "12")
    page.select_option("select[name=caller_type]", "guardian")
    page.check("input[name=risk_level][value='1']")
    page.fill("textarea[name=notes]", "孩子晚上哭，不肯上学")
    # No topic ticked: the browser lets the form go, and the server says what is missing.
    page.click("#hotline-submit")
    page.wait_for_load_state()
    assert "请至少选择一个话题。" in page.locator("#topics-group").inner_text()
    shoot(page, "hotline-form-error")
    page.check("input[name=topics][value=family]")
    page.click("#hotline-submit")
    page.wait_for_url(f"{base}/hotline")
    with live_server.db.session() as session:
        call = session.scalar(select(HotlineCall))
        assert call.topics == ["family"]


def test_a_phq9_only_campaign(live_server, browser_page):  # type: ignore[no-untyped-def]
    world = _world(live_server)
    base, page = live_server.url, browser_page
    sign_in(page, base, world["psych_teacher"])
    page.goto(f"{base}/screening/campaigns/new")
    boxes = page.locator("input[type=checkbox][name=instruments]")
    assert boxes.count() == 2
    assert not any(boxes.nth(i).is_checked() for i in range(2))
    assert all(boxes.nth(i).get_attribute("required") is None for i in range(2))
    assert "患者健康问卷抑郁量表（PHQ-9）" in page.locator("#instruments-group").inner_text()
    shoot(page, "campaign-form")
    page.fill("input[name=name]", "八年级春季筛查")
    page.check("input[name=instruments][value=phq9]")
    page.fill("input[name=grade_from]", "8")
    page.fill("input[name=grade_to]", "8")
    # the school's date, not the machine's: they differ from 00:00 to 08:00 in Shanghai
    tomorrow = local_today() + dt.timedelta(days=1)
    page.fill("input[name=opens_on]", tomorrow.isoformat())
    page.fill("input[name=closes_on]", (tomorrow + dt.timedelta(days=14)).isoformat())
    page.click("#campaign-form button[type=submit]")
    page.wait_for_url("**/screening/campaigns/*")
    with live_server.db.session() as session:
        campaign = session.scalar(select(Campaign).where(Campaign.name == "八年级春季筛查"))
        assert campaign.instruments == ["phq9"]
    # listed as not open yet (it opens tomorrow), not as ended
    assert "未开始" in page.locator("#campaign-phase").inner_text()
    page.goto(f"{base}/screening/")
    row = page.locator("#campaigns tr", has_text="八年级春季筛查")
    assert "未开始" in row.inner_text() and "已结束" not in row.inner_text()
    shoot(page, "campaign-list")


def _answer_all(page) -> None:  # type: ignore[no-untyped-def]
    for group in page.locator(".question").all():
        group.locator("input[type=radio]").first.check()


def test_kiosk_refuses_screened_students_and_keeps_late_conflicts(live_server, browser_page):  # type: ignore[no-untyped-def]
    world = _world(live_server, students=3)
    base, page = live_server.url, browser_page
    first, second, third = world["numbers"]
    with live_server.db.session() as session:
        school = session.get(School, world["school_id"])
        today = local_today()
        campaign = create_campaign(
            session, None, name="八年级筛查", instruments=["phq9", "gad7"], schools=[school],
            grades=[8], opens_on=today - dt.timedelta(days=1), closes_on=today + dt.timedelta(days=30),
        )  # fmt: skip
        campaign_id = campaign.id
        screened = session.get(Student, world["student_ids"][0])
        record_answers(session, None, campaign, screened, {"gad7": dict.fromkeys(
            [f"gad7_{n}" for n in range(1, 8)], 0)})  # fmt: skip
    sign_in(page, base, world["psych_teacher"])
    page.goto(f"{base}/screening/campaigns/{campaign_id}/kiosk")
    page.fill("textarea[name=student_numbers]", f"{first}\n{second}")
    page.click("#kiosk-form button[type=submit]")
    page.wait_for_load_state()
    # the teacher (still signed in, still on the teacher's page) reads which student and why
    assert f"以下学号的学生已在本次筛查中作答：{first}。" in flash(page)
    assert page.locator("#kiosk-form").count() == 1
    shoot(page, "kiosk-open-refused")
    page.fill("textarea[name=student_numbers]", f"{second}\n{third}")
    page.click("#kiosk-form button[type=submit]")
    page.wait_for_url("**/screening/kiosk/*")
    kiosk_url = page.url
    assert (
        "（1/2）" in page.locator("h1").inner_text() or "(1/2)" in page.locator("h1").inner_text()
    )
    # the kiosk's own instructions speak to the student (你); the validated item texts are as shipped
    assert "请按你自己的真实情况作答" in page.locator("#kiosk-intro").inner_text()
    shoot(page, "kiosk-questionnaire")
    # While the second student answers, a result file records a response for them.
    with live_server.db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        late = session.get(Student, world["student_ids"][1])
        record_answers(session, None, campaign, late, {"gad7": dict.fromkeys(
            [f"gad7_{n}" for n in range(1, 8)], 1)})  # fmt: skip
    _answer_all(page)
    page.click("#kiosk-questionnaire button[type=submit]")
    page.wait_for_url(kiosk_url)
    assert "你的回答已保存" in flash(page)
    assert "2/2" in page.locator("h1").inner_text()
    _answer_all(page)
    page.click("#kiosk-questionnaire button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#kiosk-thanks").count() == 1
    shoot(page, "kiosk-done")
    with live_server.db.session() as session:
        held = session.scalar(select(HeldAnswers))
        assert held.student_id == world["student_ids"][1]
        assert set(held.data["answers"]) == {"phq9", "gad7"}
        kiosk = session.scalar(select(KioskSession))
        assert kiosk.closed_at is not None
        assert (
            session.scalar(
                select(Response.source).where(
                    Response.student_id == world["student_ids"][2], Response.instrument == "phq9"
                )
            )
            == "kiosk"
        )
    # the psychology teacher finds the held answers on the review page
    sign_in(page, base, world["psych_teacher"])
    page.goto(f"{base}/screening/review")
    assert page.locator("#held-answers tr[data-held]").count() == 1
    shoot(page, "review-held")
