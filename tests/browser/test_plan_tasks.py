"""Issue 14 item 4 in a real browser (zh_CN): a class teacher signs in, sees the task a plan
gave them on the workbench, opens it and marks it done with a note; the task moves to "done"
and nothing else of the record is shown to them (no link to the record, no tier). The
psychology teacher who assigned an overdue task sees it on their workbench.

With ``WELLBEING_SCREENS=<dir>`` the workbench panel, the task page and "my tasks" are saved
as screenshots (1280×800 and 390×844) for a person to look at."""

from __future__ import annotations

import datetime as dt

from wellbeing.auth.services import build_principal
from wellbeing.db import utcnow
from wellbeing.orgs.models import SchoolClass
from wellbeing.plans.models import PlanTask, TaskState
from wellbeing.plans.tasks import add_task

from ..factories import make_school, make_student, staff_set
from .helpers import flash, shoot, sign_in


def _world(live_server):  # type: ignore[no-untyped-def]
    today = utcnow().astimezone(live_server.env.settings.tz).date()
    with live_server.db.session() as session:
        school = make_school(session)
        users = staff_set(session, live_server.env.settings, school)
        teacher = users["class_teacher"]
        klass_id = next(m.class_id for m in teacher.memberships)
        student = make_student(session, school, session.get(SchoolClass, klass_id), name="林小夏",
                               tier=2)  # fmt: skip
        psych = build_principal(session, users["psych_teacher"])
        tasks = {}
        for key, title, days in (("week", "每周一次课间谈心", 3), ("late", "安排座位靠前", -1)):
            task = add_task(session, psych, student=student, kind="plan_action", title=title,
                            due_date=today + dt.timedelta(days=days), assignee_id=teacher.id)  # fmt: skip
            tasks[key] = task.id
        return {
            "student_id": student.id, "tasks": tasks, "teacher": teacher.username,
            "psych": users["psych_teacher"].username,
        }  # fmt: skip


def test_class_teacher_completes_a_task_from_the_workbench(live_server, browser_page):  # type: ignore[no-untyped-def]
    w = _world(live_server)
    base, page = live_server.url, browser_page
    sign_in(page, base, w["teacher"])
    panel = page.locator("[data-testid=panel-tasks]")
    assert "我的任务" in panel.inner_text()
    assert "每周一次课间谈心" in panel.inner_text() and "安排座位靠前" in panel.inner_text()
    assert "林小夏" in panel.inner_text()
    assert panel.locator("[data-testid=overdue-mark]").count() == 1
    assert panel.locator(f"a[href*='/students/{w['student_id']}']").count() == 0
    assert panel.locator(".tier-badge").count() == 0
    shoot(page, "ptasks-workbench-class-teacher")

    with page.expect_navigation():
        panel.get_by_role("link", name="每周一次课间谈心").click()
    assert "标记任务已完成" in page.locator("h1").inner_text()
    assert page.locator(f"a[href*='/students/{w['student_id']}']").count() == 0
    page.fill("textarea[name=note]", "课间和她聊了十分钟，她说最近睡得好一些。")
    shoot(page, "ptasks-done-form")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "任务已标记为已完成" in flash(page)
    assert page.url.endswith("/tasks")
    done = page.locator("[data-testid=tasks-done]").inner_text()
    assert "每周一次课间谈心" in done and "睡得好一些" in done
    assert "安排座位靠前" in page.locator("[data-testid=tasks-open]").inner_text()
    shoot(page, "ptasks-my-tasks")
    page.goto(f"{base}/agenda")  # the open task is in the agenda too (overdue: this week)
    assert "安排座位靠前" in page.locator("[data-testid=agenda-extras]").inner_text()
    shoot(page, "ptasks-agenda")
    with live_server.db.session() as session:
        task = session.get(PlanTask, w["tasks"]["week"])
        assert task.state == TaskState.DONE and "睡得好一些" in (task.done_note or "")

    # the psychology teacher who gave the tasks sees the overdue one on the workbench
    sign_in(page, base, w["psych"])
    assigned = page.locator("[data-testid=panel-tasks_assigned]")
    assert (
        "安排座位靠前" in assigned.inner_text() and "每周一次课间谈心" not in assigned.inner_text()
    )
    shoot(page, "ptasks-workbench-assigner")
