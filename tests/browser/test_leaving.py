"""Issue 14 item 9 in a real browser (zh_CN): the administrator records a class's graduation on
the leavers page (a number typed, a student found by name and added, the preview's chips, the
confirmation in words); a district counsellor then opens a sealed record through break-glass
and reads the banner saying what the seal means.

With ``WELLBEING_SCREENS=<dir>`` the page, its preview, its confirmation and the sealed record
are saved as screenshots (1280×800 and 390×844)."""

from __future__ import annotations

import datetime as dt

from wellbeing.audit.models import BreakGlass
from wellbeing.db import utcnow

from ..factories import make_class, make_school, make_student, staff_set
from .helpers import flash, shoot, sign_in_as


def _world(live_server):  # type: ignore[no-untyped-def]
    with live_server.db.session() as session:
        school = make_school(session, name="城东中学")
        users = staff_set(session, live_server.env.settings, school)
        klass = make_class(session, school, grade=9, label="2")
        made = [
            make_student(session, school, klass, name=name, student_number=number)
            for name, number in (("林小夏", "G2026001"), ("陈思远", "G2026002"),
                                 ("王一诺", "G2026003"), ("赵子涵", "G2026004"))
        ]  # fmt: skip
        return {
            "school": str(school.id), "admin": users["admin"].username,
            "counsellor": users["counsellor"].username, "counsellor_id": users["counsellor"].id,
            "first": made[0].id,
        }  # fmt: skip


def test_the_admin_seals_a_graduating_class_and_the_record_says_so(live_server, browser_page):
    w = _world(live_server)
    base, page = live_server.url, browser_page
    sign_in_as(page, live_server, w["admin"])
    page.goto(f"{base}/")
    page.click("a[href='/students/leavers']")
    assert "登记离校学生" in page.locator("h1").inner_text()
    page.select_option("select[name=school]", w["school"])
    page.fill("textarea[name=numbers]", "G2026001\nG2026002\nG2026003\nG9999999")
    shoot(page, "leavers-form")
    page.click("details.leavers-find summary")
    page.fill("input[name=q]", "赵子涵")
    with page.expect_navigation():
        page.click("#leavers-search")
    with page.expect_navigation():
        page.click("[data-testid=leavers-add]")
    unknown = page.locator("[data-testid=leavers-unknown]").inner_text()
    assert "G9999999" in unknown
    assert page.locator("#leavers-confirm").count() == 0
    shoot(page, "leavers-preview-problem")
    numbers = page.locator("textarea[name=numbers]").input_value().replace("G9999999\n", "")
    page.fill("textarea[name=numbers]", numbers)
    with page.expect_navigation():
        page.click("#leavers-preview")
    found = page.locator("[data-testid=leavers-found]").inner_text()
    for name in ("林小夏", "陈思远", "王一诺", "赵子涵"):
        assert name in found
    shoot(page, "leavers-preview")
    with page.expect_navigation():
        page.click("#leavers-confirm")
    message = flash(page)
    assert "已封存 4 份档案" in message and "没有其他未结事项" in message, message
    shoot(page, "leavers-done")

    with live_server.db.session() as session:
        now = utcnow()
        session.add(BreakGlass(user_id=w["counsellor_id"], student_id=w["first"], started_at=now,
                               expires_at=now + dt.timedelta(minutes=30),
                               reason="家长申请查阅档案"))  # fmt: skip
    sign_in_as(page, live_server, w["counsellor"])
    page.goto(f"{base}/students/{w['first']}")
    banner = page.locator("[data-testid=record-sealed]").inner_text()
    assert "档案已封存" in banner and "只读" in banner
    shoot(page, "sealed-record")
