"""The partner portal in a real browser (zh_CN): a hospital liaison signs in, sees the referral
on the workbench and the queue, opens it (the minimum dataset), acknowledges it, records an
appointment, the attendance and the feedback, prints it; a withdrawn referral shows only that.
axe-core on each page; screenshots (1280×800, 390×844) to ``$WELLBEING_SCREENS`` when set."""

from __future__ import annotations

import datetime as dt
import io
import unicodedata

from pypdf import PdfReader

from wellbeing.db import utcnow
from wellbeing.referrals import services
from wellbeing.referrals.models import ReferralState

from ..referrals.helpers import PATHS, do, draft, give_consent, make_world, walk_to
from ..referrals.test_portal_leaks import screening_response
from . import axe
from .helpers import flash, shoot, sign_in_as

S = ReferralState


def test_a_liaison_works_a_referral_in_the_portal(live_server, browser_page):  # type: ignore[no-untyped-def]
    with live_server.db.session() as s:
        world = make_world(s, live_server.env.settings, tier=3)
        world.student.name = "林小夏"  # a name the PDF text extraction reads back as written
        world.student.guardians = [
            {"name": "陈美玲", "phone": "13800138000", "relation": "mother"},
            {"name": "陈建国", "phone": "13900139000", "relation": "father"},
        ]  # fmt: skip
        give_consent(s, world, "partner_sharing")
        referral = walk_to(s, world, S.SENT)
        phq = screening_response(s, world, "phq9", 17, "moderately_severe")
        shared = draft(s, world, responses=[phq.id], answers=True)
        for move, role in PATHS[S.SENT]:
            do(s, world, shared, move, role)
        withdrawn = walk_to(s, world, S.SENT)
        services.withdraw(s, world.people["sender"], withdrawn.id, "家长改为自行就医")
        rid, wid, liaison = referral.id, withdrawn.id, world.users["partner_a"].username
        sid = shared.id
        name = world.student.name
    page = browser_page
    axe.install(page.context)
    base = live_server.url
    sign_in_as(page, live_server, liaison)
    problems: list[str] = []

    page.goto(f"{base}/")
    assert page.get_by_test_id("count-partner_acknowledge").inner_text() == "2"
    assert name not in page.content()
    problems += axe.serious_violations(page, "workbench")
    shoot(page, "partner-workbench")

    page.goto(f"{base}/partner/referrals")
    assert name in page.content()
    problems += axe.serious_violations(page, "queue")
    shoot(page, "partner-queue")

    page.goto(f"{base}/partner/referrals/{rid}")
    assert "陈美玲" in page.content() and "陈建国" not in page.content()
    problems += axe.serious_violations(page, "referral sent")
    shoot(page, "partner-referral-sent")
    page.get_by_test_id("do-acknowledge").click()
    assert "您已确认接收该转介" in flash(page)
    problems += axe.serious_violations(page, "referral acknowledged")
    shoot(page, "partner-referral-acknowledged")

    when = (utcnow() + dt.timedelta(days=2)).astimezone(live_server.env.settings.tz)
    page.fill("input[name=at]", when.strftime("%Y-%m-%dT10:30"))
    page.fill("textarea[name=note]", "儿童精神科门诊三楼，请携带既往病历")
    page.get_by_role("button", name="登记预约").click()
    assert "已登记预约" in flash(page)
    shoot(page, "partner-referral-scheduled")
    page.check("input[value=attended]")
    page.get_by_role("button", name="登记就诊情况").click()
    assert "已登记学生按时就诊" in flash(page)
    problems += axe.serious_violations(page, "feedback form")
    shoot(page, "partner-referral-feedback-form")
    page.fill("textarea[name=summary]", "中度抑郁发作，已开始门诊治疗。")
    page.fill("textarea[name=for_school]", "适当减轻课业压力，安排心理教师每周约谈。")
    page.fill("textarea[name=for_family]", "每两周陪同复诊，注意睡眠。")
    page.fill("textarea[name=return_advice]", "两周后复诊评估，可逐步复学。")
    page.check("input[name=advises_return]")
    page.get_by_role("button", name="向学校发送反馈").click()
    assert "反馈已发送给学校" in flash(page)
    problems += axe.serious_violations(page, "feedback sent")
    shoot(page, "partner-referral-feedback-sent")

    page.goto(f"{base}/partner/referrals/{rid}/print")
    assert name in page.content()
    shoot(page, "partner-referral-print")
    # printed to PDF by Chromium: the minimum dataset, and nothing the school kept to itself
    pdf = PdfReader(io.BytesIO(page.pdf(format="A4")))
    text = unicodedata.normalize("NFKC", "".join(p.extract_text() for p in pdf.pages))
    text = "".join(text.split())
    assert name in text and "陈美玲" in text and "情绪低落两月" in text
    for kept in ("班主任反映上课哭泣", "陈建国", "13900139000", "电话沟通转介事宜", "中度抑郁发作"):
        assert kept not in text, kept

    page.goto(f"{base}/partner/referrals/{sid}")
    assert page.get_by_test_id("dataset-screening").count() == 1
    problems += axe.serious_violations(page, "shared screening")
    shoot(page, "partner-referral-screening")

    page.goto(f"{base}/partner/referrals/{wid}")
    assert page.get_by_test_id("access-state").inner_text() == "已撤回"
    assert name not in page.content()
    shoot(page, "partner-referral-withdrawn")
    assert problems == []
