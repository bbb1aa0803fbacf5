"""Issue 14 item 8 in a real browser (zh_CN): the admin moves a student to another school of
the district on the transfer page and reads what happened; the old school's psychology teacher
then sees the record cut to what the school wrote, with the date it stops.

With ``WELLBEING_SCREENS=<dir>`` the transfer page, its confirmation and the old school's view
are saved as screenshots (1280×800 and 390×844)."""

from __future__ import annotations

from ..factories import make_school, make_student, make_user, staff_set
from .helpers import flash, shoot, sign_in_as


def _world(live_server):  # type: ignore[no-untyped-def]
    with live_server.db.session() as session:
        old, new = make_school(session, name="城东中学"), make_school(session, name="城西中学")
        users = staff_set(session, live_server.env.settings, old)
        receiving = make_user(session, live_server.env.settings, "psych_teacher", school=new)
        receiving.display_name = "周老师"
        student = make_student(session, old, name="林小夏", student_number="X2026")
        return {
            "student_id": student.id, "old": str(old.id), "new": str(new.id),
            "admin": users["admin"].username, "psych": users["psych_teacher"].username,
        }  # fmt: skip


def test_the_admin_moves_a_student_and_the_old_school_reads_its_own(live_server, browser_page):
    w = _world(live_server)
    base, page = live_server.url, browser_page
    sign_in_as(page, live_server, w["admin"])
    page.goto(f"{base}/students/transfer")
    assert "学生转学" in page.locator("h1").inner_text()
    page.select_option("select[name=from_school]", w["old"])
    page.fill("input[name=student_number]", "X2026")
    page.select_option("select[name=to_school]", w["new"])
    shoot(page, "transfer-form")
    with page.expect_navigation():
        page.click("#transfer-submit")
    message = flash(page)
    for text in ("X2026", "城东中学", "城西中学", "周老师", "仍可查看"):
        assert text in message, (text, message)
    shoot(page, "transfer-done")

    sign_in_as(page, live_server, w["psych"])
    page.goto(f"{base}/students/moved-away")
    page.click("#moved-away a.person-name")
    notice = page.locator("[data-testid=transfer-reader]").inner_text()
    assert "城西中学" in notice and "其他学校撰写的内容不会显示" in notice
    shoot(page, "transfer-old-school-record")
