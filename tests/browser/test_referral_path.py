"""Issue 15 in a real browser (zh_CN), the whole path of a referral: the psychology teacher
starts it from the record, checks the preview of exactly what the partner will see and submits
it with the guardian's consent (the confirmation names who was told) → the district centre
accepts it and sends it to a partner, and prints the referral letter (Chromium's PDF, read
back with pypdf: the minimum dataset, never the internal note) → the partner's liaison
acknowledges it, records the appointment and the attendance and writes the feedback in the
portal → the psychology teacher sees the feedback and the plan-update task on the workbench.
The admin's partner register and calendar are shown too.

With ``WELLBEING_SCREENS=<dir>`` each page is saved at 1280×800 and 390×844."""

from __future__ import annotations

import datetime as dt
import io
import unicodedata

from pypdf import PdfReader
from sqlalchemy import select

from wellbeing.auth.services import build_principal
from wellbeing.crisis.guardian_log import record_guardian_contact
from wellbeing.db import utcnow
from wellbeing.orgs.models import SchoolClass
from wellbeing.plans.models import PlanTask
from wellbeing.referrals.models import Referral, ReferralState
from wellbeing.screening.services import record_answers

from ..factories import make_school, make_student, staff_set
from ..referrals.helpers import liaison, make_partner
from ..screening.helpers import open_campaign
from .helpers import flash, shoot, sign_in_as

REASON = "近两个月情绪持续低落，PHQ-9 得分偏高，需专科评估。"
INTERNAL = "班主任反映课堂上多次流泪"


def _world(live_server):  # type: ignore[no-untyped-def]
    settings = live_server.env.settings
    with live_server.db.session() as session:
        school = make_school(session, name="滨江中学")
        users = staff_set(session, settings, school)
        klass_id = next(m.class_id for m in users["class_teacher"].memberships)
        student = make_student(session, school, session.get(SchoolClass, klass_id), name="林小夏",
                               tier=2)  # fmt: skip
        student.guardians = [{"name": "林母", "phone": "13812345678", "relation": "mother"}]
        campaign = open_campaign(session, [school], instruments=("phq9",))
        record_answers(session, None, campaign, student,
                       {"phq9": {f"phq9_{n}": 2 for n in range(1, 10)}})  # fmt: skip
        psych = build_principal(session, users["psych_teacher"])
        for purpose in ("referral", "partner_sharing"):
            record_guardian_contact(
                session, psych, student, relation="mother", channel="phone",
                contacted_at=utcnow() - dt.timedelta(hours=2), summary="电话沟通转介与信息提供",
                consent_purpose=purpose, consent="given",
            )  # fmt: skip
        partner = make_partner(session, school.district_id, "市精神卫生中心")
        make_partner(session, school.district_id, "区妇幼保健院")
        desk = liaison(session, settings, partner)
        return {
            "student_id": student.id, "psych": users["psych_teacher"].username,
            "centre": users["counsellor"].username, "admin": users["admin"].username,
            "liaison": desk.username, "partner_id": partner.id,
            "centre_name": users["counsellor"].display_name,
        }  # fmt: skip


def _referral(live_server, student_id):  # type: ignore[no-untyped-def]
    with live_server.db.session() as session:
        found = session.scalars(select(Referral).where(Referral.student_id == student_id)).one()
        session.expunge(found)
        return found


def test_the_whole_referral_path(live_server, browser_page):  # type: ignore[no-untyped-def]
    w = _world(live_server)
    base, page = live_server.url, browser_page

    # 1. the psychology teacher starts it from the record and previews it
    sign_in_as(page, live_server, w["psych"])
    page.goto(f"{base}/students/{w['student_id']}")
    with page.expect_navigation():
        page.locator("a[href$='/referrals/new']").click()
    page.fill("textarea[name=reason]", REASON)
    page.fill("textarea[name=internal_reason]", INTERNAL)
    page.locator("input[name=responses]").first.check()
    shoot(page, "refschool-form")
    with page.expect_navigation():
        page.get_by_role("button", name="保存并预览").click()
    preview = page.locator("[data-testid=preview-all]").inner_text()
    assert REASON in preview and "13812345678" in preview and "林小夏" in preview
    assert INTERNAL not in page.content()
    assert "母亲" in page.locator("[data-testid=consent-basis]").inner_text()
    shoot(page, "refschool-preview")
    with page.expect_navigation():
        page.get_by_role("button", name="提交转介").click()
    told = flash(page)
    assert "已提交区心理辅导中心" in told and w["centre_name"] in told
    shoot(page, "refschool-submitted")
    referral = _referral(live_server, w["student_id"])
    assert referral.state == ReferralState.SUBMITTED and referral.consent_contact_id

    # 2. the centre accepts it and sends it to a partner, and prints the letter
    sign_in_as(page, live_server, w["centre"])
    page.goto(f"{base}/referrals")
    assert "林小夏" in page.locator("[data-testid=referral-list]").inner_text()
    shoot(page, "refschool-queue")
    page.goto(f"{base}/referrals/{referral.id}")
    with page.expect_navigation():
        page.locator("[data-testid=accept]").click()
    page.select_option("select[name=partner_id]", str(w["partner_id"]))
    shoot(page, "refschool-centre-send")
    with page.expect_navigation():
        page.get_by_role("button", name="发送给合作医疗机构").click()
    assert "转介已发送" in flash(page)
    assert _referral(live_server, w["student_id"]).state == ReferralState.SENT
    page.goto(f"{base}/referrals/{referral.id}/letter")
    assert "转介单" in page.locator("h1").inner_text()
    shoot(page, "refschool-letter")
    pdf = page.pdf(format="A4", print_background=True)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    # NFKC: the PDF's font maps some ideographs to Kangxi radicals (⼩ for 小)
    compact = unicodedata.normalize("NFKC", "".join(text.split()))
    assert "转介单" in compact and "林小夏" in compact and "13812345678" in compact
    assert (
        unicodedata.normalize("NFKC", "".join(REASON.split())) in compact
        and "市精神卫生中心" in compact
    )
    assert INTERNAL not in compact

    page.goto(f"{base}/reports/district")
    assert "已转给合作医疗机构" in page.locator("[data-testid=referrals-by-state]").inner_text()
    shoot(page, "refschool-district-dashboard")

    # 3. the partner acknowledges, schedules, records attendance, writes the feedback
    sign_in_as(page, live_server, w["liaison"])
    page.goto(f"{base}/partner/referrals/{referral.id}")
    with page.expect_navigation():
        page.locator("[data-testid=do-acknowledge]").click()
    when = (utcnow() + dt.timedelta(days=2)).astimezone(live_server.env.settings.tz)
    page.fill("input[name=at]", when.strftime("%Y-%m-%dT09:30"))
    page.fill("textarea[name=note]", "儿童青少年心理科门诊三楼")
    with page.expect_navigation():
        page.locator("form[action$='/appointment'] button[type=submit]").click()
    page.locator("input[name=attendance][value=attended]").check()
    with page.expect_navigation():
        page.locator("form[action$='/attendance'] button[type=submit]").click()
    page.fill("textarea[name=summary]", "门诊评估：中度抑郁发作，建议药物与心理治疗结合。")
    page.fill("textarea[name=for_school]", "减轻课业压力，每周由心理教师随访一次。")
    page.locator("input[name=advises_return]").check()
    with page.expect_navigation():
        page.locator("form[action$='/feedback'] button[type=submit]").click()
    assert _referral(live_server, w["student_id"]).state == ReferralState.FEEDBACK

    # 4. the psychology teacher sees the feedback and the plan-update task
    sign_in_as(page, live_server, w["psych"])
    page.goto(f"{base}/")
    tasks = page.locator("[data-testid=panel-tasks]").inner_text()
    assert "更新学生的方案" in tasks and "林小夏" in tasks
    assert "林小夏" in page.locator("[data-testid=panel-referrals_waiting]").inner_text()
    shoot(page, "refschool-workbench-psych")
    page.goto(f"{base}/referrals/{referral.id}")
    feedback = page.locator("[data-testid=referral-feedback]").inner_text()
    assert "中度抑郁发作" in feedback and "建议复学" in feedback
    shoot(page, "refschool-feedback")
    page.goto(f"{base}/students/{w['student_id']}")
    assert "已收到反馈" in page.locator("[data-testid=record-referrals]").inner_text()
    shoot(page, "refschool-record")
    with live_server.db.session() as session:
        kinds = set(session.scalars(
            select(PlanTask.kind).where(PlanTask.student_id == w["student_id"])
        ))  # fmt: skip
        assert "update_plan" in kinds

    # 5. the admin's partner register and working calendar
    sign_in_as(page, live_server, w["admin"])
    page.goto(f"{base}/admin/partners")
    assert "市精神卫生中心" in page.locator("[data-testid=partner-list]").inner_text()
    shoot(page, "refschool-admin-partners")
    page.goto(f"{base}/admin/partners/{w['partner_id']}")
    shoot(page, "refschool-admin-partner")
    page.goto(f"{base}/admin/partners/calendar")
    page.fill("input[name=day]", "2027-02-08")
    page.fill("input[name=label]", "春节")
    with page.expect_navigation():
        page.get_by_role("button", name="添加该日").click()
    assert "春节" in page.locator("[data-testid=calendar-days]").inner_text()
    shoot(page, "refschool-admin-calendar")
