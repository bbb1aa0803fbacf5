"""``/tasks`` (my tasks), marking a task done, the workbench panels and the agenda / calendar
feed, through HTTP. The class teacher sees the task, the due date and the student's name, and
nothing else of the record: no tier, no plan text beyond the task, no notes."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from wellbeing.core.audit import AuditAction
from wellbeing.db import utcnow
from wellbeing.followups import services as followup_services
from wellbeing.plans import services
from wellbeing.plans.models import PlanTask, TaskState
from wellbeing.plans.review import propose_for
from wellbeing.plans.tasks import add_task
from wellbeing.ui import TIER_NAMES

from ..conftest import login
from ..test_zh_pages import english_on


def _today() -> dt.date:
    return utcnow().astimezone(dt.timezone(dt.timedelta(hours=8))).date()


def _task(session, world, *, who="class_teacher", title="Weekly check-in", days=3,  # type: ignore[no-untyped-def]
          by=None, student=None, external=None):  # fmt: skip
    task = add_task(
        session, world.p[by] if by else None, student=student or world.orange, kind="plan_action",
        title=title, due_date=_today() + dt.timedelta(days=days),
        assignee_id=world.users[who].id if who else None, external=external,
    )  # fmt: skip
    session.flush()
    return task


def test_class_teacher_sees_their_task_and_nothing_else_of_the_record(client, db_session, plans_world, audit_entries):  # type: ignore[no-untyped-def]  # fmt: skip
    w = plans_world
    _task(db_session, w, title="Seat near the front")
    _task(db_session, w, title="Late task", days=-2)
    _task(db_session, w, who="psych_teacher", title="Not theirs")
    login(client, w.users["class_teacher"])
    response = client.get("/tasks")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Seat near the front" in html and "Late task" in html and "Not theirs" not in html
    assert w.orange.name in html
    assert 'data-testid="overdue-mark"' in html
    # the chip is a plain name: no link to the record, no tier, no school or class
    assert f"/students/{w.orange.id}" not in html
    assert not any(name in html for name in (str(TIER_NAMES[2]), str(TIER_NAMES[3])))
    assert "tier-badge" not in html
    [entry] = audit_entries(AuditAction.TASK_VIEW)
    assert set(entry.fields) >= {"task.title", "task.due_date", "name"}
    assert "tier" not in entry.fields and str(w.orange.id) in entry.detail["students"]


def test_marking_done_keeps_an_encrypted_note_and_moves_the_task(client, db_session, plans_world):  # type: ignore[no-untyped-def]
    w = plans_world
    task = _task(db_session, w)
    login(client, w.users["class_teacher"])
    page = client.get(f"/tasks/{task.id}/done")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Weekly check-in" in html and f"/students/{w.orange.id}" not in html
    assert "tier-badge" not in html
    empty = client.post(f"/tasks/{task.id}/done", data={"note": ""})
    assert empty.status_code == 200 and "Write a short note." in empty.get_data(as_text=True)
    done = client.post(f"/tasks/{task.id}/done", data={"note": "Talked with her at lunch"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/tasks")
    db_session.expire_all()
    row = db_session.get(PlanTask, task.id)
    assert row.state == TaskState.DONE and row.done_note == "Talked with her at lunch"
    assert b"Talked with her" not in row.done_note_ct  # encrypted at rest
    listing = client.get("/tasks").get_data(as_text=True)
    done_part = listing.split('data-testid="tasks-done"')[1]
    assert "Weekly check-in" in done_part and "Talked with her at lunch" in done_part
    # done: the form sends the person back to the list
    again = client.get(f"/tasks/{task.id}/done")
    assert again.status_code == 302


def test_someone_elses_task_is_not_found(client, db_session, plans_world):  # type: ignore[no-untyped-def]
    w = plans_world
    task = _task(db_session, w, who="psych_teacher")
    login(client, w.users["class_teacher"])
    assert client.get(f"/tasks/{task.id}/done").status_code == 404
    assert client.post(f"/tasks/{task.id}/done", data={"note": "x"}).status_code == 404
    db_session.expire_all()
    assert db_session.get(PlanTask, task.id).state == TaskState.OPEN


def test_psych_teacher_tracks_a_guardians_task_and_marks_it_done(client, db_session, plans_world):  # type: ignore[no-untyped-def]
    w = plans_world
    task = _task(db_session, w, who=None, title="Call back on Friday", external="王女士")
    login(client, w.users["other_psych"])  # any psych teacher of the school
    html = client.get("/tasks").get_data(as_text=True)
    assert "Call back on Friday" in html and "王女士" in html
    response = client.post(f"/tasks/{task.id}/done", data={"note": "The mother called back"})
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(PlanTask, task.id).state == TaskState.DONE
    # a class teacher and another school's psych teacher do not see it
    for key in ("class_teacher", "other_school_psych"):
        login(client, w.users[key])
        assert "Call back on Friday" not in client.get("/tasks").get_data(as_text=True)


def test_workbench_shows_my_tasks_and_the_assigners_overdue_ones(client, db_session, plans_world, audit_entries):  # type: ignore[no-untyped-def]  # fmt: skip
    w = plans_world
    _task(db_session, w, title="Weekly check-in", by="psych_teacher")
    _task(db_session, w, title="Seat near the front", days=-1, by="psych_teacher")
    login(client, w.users["class_teacher"])
    html = client.get("/").get_data(as_text=True)
    panel = html.split('data-testid="panel-tasks"')[1].split("</section>")[0]
    assert "Weekly check-in" in panel and "Seat near the front" in panel
    assert 'data-testid="count-tasks">2<' in panel and w.orange.name in panel
    assert "tier-badge" not in panel and f"/students/{w.orange.id}" not in panel
    entry = audit_entries(AuditAction.STUDENT_LIST)[-1]
    assert "task.title" in entry.fields
    # the assigner sees the overdue one, linking to their list of what they assigned
    login(client, w.users["psych_teacher"])
    html = client.get("/").get_data(as_text=True)
    panel = html.split('data-testid="panel-tasks_assigned"')[1].split("</section>")[0]
    assert "Seat near the front" in panel and "Weekly check-in" not in panel
    listing = client.get("/tasks").get_data(as_text=True)
    assigned = listing.split('data-testid="tasks-assigned"')[1].split("</section>")[0]
    assert "Seat near the front" in assigned and w.users["class_teacher"].display_name in assigned


def test_no_task_panel_without_tasks(client, db_session, plans_world):  # type: ignore[no-untyped-def]
    login(client, plans_world.users["class_teacher"])
    html = client.get("/").get_data(as_text=True)
    assert 'data-testid="panel-tasks"' not in html


def test_agenda_lists_tasks_and_the_feed_carries_least_data(client, db_session, plans_world):  # type: ignore[no-untyped-def]
    w = plans_world
    task = _task(db_session, w, title="Seat near the front", days=0)
    login(client, w.users["class_teacher"])
    agenda = client.get("/agenda").get_data(as_text=True)
    extras = agenda.split('data-testid="agenda-extras"')[1].split("</section>")[0]
    assert "Seat near the front" in extras and f"/tasks/{task.id}/done" in extras
    token = followup_services.issue_calendar_token(db_session, w.users["class_teacher"].id)
    db_session.flush()
    feed = client.get(f"/agenda/{token}.ics").get_data(as_text=True)
    assert f"UID:task-{task.id}@wellbeing" in feed
    assert f"DTSTART;VALUE=DATE:{task.due_date:%Y%m%d}" in feed
    assert "SUMMARY:Task" in feed and "/tasks" in feed
    assert "Seat near the front" not in feed and w.orange.name not in feed
    assert not re.search(r"DESCRIPTION|LOCATION|ATTENDEE", feed)
    # done tasks leave the feed
    db_session.get(PlanTask, task.id).state = TaskState.DONE
    db_session.flush()
    assert f"task-{task.id}" not in client.get(f"/agenda/{token}.ics").get_data(as_text=True)


def test_cancelled_tasks_are_not_listed(client, db_session, plans_world):  # type: ignore[no-untyped-def]
    w = plans_world
    task = _task(db_session, w, title="Gone task")
    task.state = TaskState.CANCELLED
    db_session.flush()
    login(client, w.users["class_teacher"])
    assert "Gone task" not in client.get("/tasks").get_data(as_text=True)
    assert db_session.scalar(select(PlanTask.id).where(PlanTask.id == task.id)) is not None


def test_plan_work_panels_for_writers_and_signers(client, db_session, plans_world):  # type: ignore[no-untyped-def]
    """Plans to write (a proposal and its write_plan task), reviews due within a week, and
    plans waiting for sign-off: shown to those who do that work, only when there is some."""
    w = plans_world
    assert propose_for(db_session, w.red, 3) is not None
    plan = services.start_plan(db_session, w.psych, w.orange.id)
    goal = {"text": "Sleeps better", "measure": "diary", "lifecycle": "active"}
    services.save_draft(db_session, w.psych, plan.id, {"goals": [goal]})
    services.save_version(db_session, w.psych, plan.id)  # orange: waits for sign-off
    soon = (_today() + dt.timedelta(days=3)).isoformat()
    other = services.start_plan(db_session, w.psych, w.yellow.id)
    services.save_draft(db_session, w.psych, other.id, {"goals": [goal], "review_due": soon})
    services.save_version(db_session, w.psych, other.id)  # yellow: in effect at once
    db_session.flush()

    login(client, w.users["psych_teacher"])
    html = client.get("/").get_data(as_text=True)
    to_write = html.split('data-testid="panel-plans_to_write"')[1].split("</section>")[0]
    assert w.red.name in to_write and f"/students/{w.red.id}/plan" in to_write
    reviews = html.split('data-testid="panel-plan_reviews"')[1].split("</section>")[0]
    assert w.yellow.name in reviews and soon[5:] in reviews
    assert 'data-testid="panel-plan_signoffs"' not in html  # not a signer (and the author)

    login(client, w.users["school_leader"])
    html = client.get("/").get_data(as_text=True)
    signoffs = html.split('data-testid="panel-plan_signoffs"')[1].split("</section>")[0]
    assert w.orange.name in signoffs and 'data-testid="count-plan_signoffs">1<' in signoffs
    assert 'data-testid="panel-plans_to_write"' not in html

    login(client, w.users["class_teacher"])
    html = client.get("/").get_data(as_text=True)
    assert "panel-plan" not in html


def test_task_pages_are_chinese_for_a_chinese_user(client, db_session, plans_world):  # type: ignore[no-untyped-def]
    w = plans_world
    task = _task(db_session, w, title="每周一次课间谈心", days=-1, by="psych_teacher")
    _task(db_session, w, who=None, title="周五回电话", external="王女士")
    for key in ("class_teacher", "psych_teacher"):
        user = w.users[key]
        login(client, user)
        client.post("/locale", data={"locale": "zh_CN", "next": "/"})
        for url in ("/tasks", "/", "/agenda"):
            html = client.get(url).get_data(as_text=True)
            data = (user.display_name, user.username, w.orange.name,
                    w.users["class_teacher"].display_name)  # fmt: skip
            assert english_on(html, *data) == [], (key, url)
    login(client, w.users["class_teacher"])
    client.post("/locale", data={"locale": "zh_CN", "next": "/"})
    html = client.get(f"/tasks/{task.id}/done").get_data(as_text=True)
    assert "标记任务已完成" in html
    assert english_on(html, w.users["class_teacher"].display_name) == []
