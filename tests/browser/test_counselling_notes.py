"""Issue 14 item 5 in a real browser (zh_CN): a psychology teacher writes a restricted
counselling note with a risk assessment, signs it, adds an addendum; the school leader sees
"restricted note by X on date" only.

With ``WELLBEING_SCREENS=<dir>`` the writing page, the note with its addendum and the leader's
view are saved as screenshots (1280×800 and 390×844) for a person to look at."""

from __future__ import annotations

from sqlalchemy import select

from wellbeing.notes.models import CounsellingNote, NoteState

from ..factories import make_school, make_student, staff_set
from .helpers import flash, shoot, sign_in


def _world(live_server):  # type: ignore[no-untyped-def]
    with live_server.db.session() as session:
        school = make_school(session)
        users = staff_set(session, live_server.env.settings, school)
        student = make_student(session, school, name="林小夏")
        return {
            "student_id": student.id,
            "psych": users["psych_teacher"].username,
            "leader": users["school_leader"].username,
        }


def test_a_restricted_note_written_signed_corrected_and_outlined(live_server, browser_page):
    w = _world(live_server)
    base, page = live_server.url, browser_page
    sign_in(page, base, w["psych"])
    page.goto(f"{base}/students/{w['student_id']}/notes/new")
    assert "撰写辅导记录" in page.locator("h1").inner_text()
    page.select_option("select[name=note_type]", "individual")
    page.fill("input[name=duration_minutes]", "45")
    page.fill("textarea[name=content]", "学生谈到期中考试后情绪低落，睡眠不好，愿意每周来谈一次。")
    page.check("input[name=restricted]")
    page.click("[data-testid=note-form] details summary")
    page.check("input[name=checklist][value=hopelessness]")
    page.check("input[name=checklist][value=protective_factors]")
    shoot(page, "note-new")
    with page.expect_navigation():
        page.click("button[name=action][value=sign]")
    assert "已签署并锁定" in flash(page)
    page.fill("textarea[name=text]", "更正：谈话时长为五十分钟。")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "已添加补充说明" in flash(page)
    assert "更正：谈话时长为五十分钟。" in page.locator("main").inner_text()
    shoot(page, "note-detail")
    with live_server.db.session() as session:
        note = session.scalars(select(CounsellingNote)).one()
        assert note.state == NoteState.SIGNED and note.restricted
        note_id = note.id

    sign_in(page, base, w["leader"])
    page.goto(f"{base}/students/{w['student_id']}")
    assert "保密记录" in page.locator("[data-testid=record-notes]").inner_text()
    assert "情绪低落" not in page.content()
    shoot(page, "note-record-leader")
    page.goto(f"{base}/notes/{note_id}")
    assert "保密记录" in page.locator("[data-testid=note-restricted]").inner_text()
    assert "情绪低落" not in page.content()
    shoot(page, "note-restricted-leader")
