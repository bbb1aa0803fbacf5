"""The agenda, completing a follow-up through the web, and the calendar feed (RFC 5545)."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from wellbeing.core.audit import AuditAction
from wellbeing.db import utcnow
from wellbeing.followups import ical, services
from wellbeing.followups.models import DONE, FollowUp
from wellbeing.notify.services import post_notice

from ..conftest import login
from .helpers import school_world


def _schedule(session, student, owner, due):  # type: ignore[no-untyped-def]
    return services.schedule_followup(
        session, None, student, due_at=due, owner_id=owner.id, source="manual"
    )


def test_agenda_sections_names_and_audit(client, db_session, env, audit_entries):
    _school, staff, student = school_world(db_session, env.settings)
    psych = staff["psych_teacher"]
    now = utcnow()
    _schedule(db_session, student, psych, now - dt.timedelta(hours=2))
    _schedule(db_session, student, psych, now + dt.timedelta(days=3))
    post_notice(db_session, psych.id, "followup_digest", "2026-01-01", {"today": 4, "overdue": 1})
    db_session.flush()
    login(client, psych)
    html = client.get("/agenda").get_data(as_text=True)
    overdue = html.split('data-testid="agenda-overdue"')[1].split("</section>")[0]
    assert student.name in overdue
    assert (
        'data-testid="digest-notice"' in html
        and "4" in html.split('data-testid="digest-notice"')[1][:200]
    )
    [entry] = audit_entries(AuditAction.FOLLOWUP_VIEW)
    assert entry.detail["students"] == [str(student.id)]
    # the later one is on the page of its week (this week or the next)
    later = (now + dt.timedelta(days=3)).astimezone(env.settings.tz).date()
    page = client.get(f"/agenda?week={later.isoformat()}").get_data(as_text=True)
    week = page.split('data-testid="agenda-week"')[1].split("</section>")[0]
    assert student.name in week.split(f'data-testid="agenda-day-{later.isoformat()}"')[1]
    # the notice was shown once: now read
    assert 'data-testid="digest-notice"' not in client.get("/agenda").get_data(as_text=True)


def test_agenda_hides_names_without_case_access(client, db_session, env, audit_entries):
    _school, staff, student = school_world(db_session, env.settings)
    teacher = staff["class_teacher"]  # not the student's class teacher, no case access
    _schedule(db_session, student, teacher, utcnow() + dt.timedelta(hours=1))
    db_session.flush()
    login(client, teacher)
    html = client.get("/agenda").get_data(as_text=True)
    assert student.name not in html and "A student at your school" in html
    assert "/complete" not in html
    assert audit_entries(AuditAction.FOLLOWUP_VIEW)[-1].detail["students"] == []


def test_complete_through_the_form(client, db_session, env, audit_entries):
    _school, staff, student = school_world(db_session, env.settings)
    psych = staff["psych_teacher"]
    fu = _schedule(db_session, student, psych, utcnow() - dt.timedelta(hours=1))
    db_session.flush()
    login(client, psych)
    page = client.get(f"/followups/{fu.id}/complete").get_data(as_text=True)
    assert student.name in page
    bad = client.post(
        f"/followups/{fu.id}/complete", data={"outcome": "rescheduled", "note": "absent"}
    )
    assert bad.status_code == 200 and "future" in bad.get_data(as_text=True)
    response = client.post(
        f"/followups/{fu.id}/complete", data={"outcome": "not_seen", "note": "学生请病假"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/agenda")
    db_session.expire_all()
    done = db_session.get(FollowUp, fu.id)
    assert (done.state, done.outcome, done.note) == (DONE, "not_seen", "学生请病假")
    raw = db_session.execute(select(FollowUp.note_ct).where(FollowUp.id == fu.id)).scalar()
    assert "学生请病假".encode() not in raw
    assert audit_entries(AuditAction.FOLLOWUP_COMPLETE)[-1].fields == ["note", "outcome"]


def test_schedule_by_hand(client, db_session, env):
    _school, staff, student = school_world(db_session, env.settings)
    login(client, staff["psych_teacher"])
    local = (
        (utcnow() + dt.timedelta(days=2))
        .astimezone(env.settings.tz)
        .replace(second=0, microsecond=0)
    )
    response = client.post(
        f"/students/{student.id}/followups/new", data={"due_at": local.strftime("%Y-%m-%dT%H:%M")}
    )
    assert response.status_code == 302
    fu = db_session.scalars(select(FollowUp).where(FollowUp.student_id == student.id)).one()
    assert (fu.source, fu.owner_id, fu.due_at) == (
        "manual",
        staff["psych_teacher"].id,
        local.astimezone(dt.UTC),
    )
    past = client.post(f"/students/{student.id}/followups/new", data={"due_at": "2020-01-01T08:00"})
    assert past.status_code == 200 and "future" in past.get_data(as_text=True)


def _feed_url(html: str) -> str:
    match = re.search(r'data-testid="feed-url">([^<]+)<', html)
    assert match
    return "/" + match.group(1).split("/", 3)[3]


def _unfold(body: str) -> list[str]:
    return body.replace("\r\n ", "").split("\r\n")[:-1]


def test_calendar_feed_has_no_names_and_is_revocable(client, db_session, env, audit_entries):
    _school, staff, student = school_world(db_session, env.settings)
    psych = staff["psych_teacher"]
    fu = _schedule(db_session, student, psych, utcnow() + dt.timedelta(days=1))
    _schedule(db_session, student, psych, utcnow() - dt.timedelta(hours=3))
    db_session.flush()
    login(client, psych)
    url = _feed_url(client.post("/agenda/calendar-token").get_data(as_text=True))
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    stored = db_session.execute(text("SELECT token_digest FROM calendar_token")).scalars().all()
    assert token not in stored and len(stored) == 1
    with client.session_transaction() as sess:
        sess.clear()  # the feed works without a session
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    body = response.get_data(as_text=True)
    assert student.name not in body and str(student.id) not in body
    lines = _unfold(body)
    assert lines.count("BEGIN:VEVENT") == 2 and f"UID:{fu.id}@wellbeing" in lines
    assert all(
        line in ("SUMMARY:随访", "SUMMARY:Follow-up")
        for line in lines
        if line.startswith("SUMMARY")
    )
    assert f"URL:{env.settings.base_url}/agenda" in lines
    # regenerate: the old link stops working
    login(client, psych)
    new_url = _feed_url(client.post("/agenda/calendar-token").get_data(as_text=True))
    assert client.get(url).status_code == 404 and client.get(new_url).status_code == 200
    assert client.post("/agenda/calendar-token/revoke").status_code == 302
    assert client.get(new_url).status_code == 404
    assert [e.detail["change"] for e in audit_entries(AuditAction.CALENDAR_TOKEN)] == [
        "issued",
        "issued",
        "revoked",
    ]


def test_ics_format_rfc5545(db_session, env):
    now = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    body = ical.calendar(
        [ical.FeedEvent(uid="a" * 90 + "@wellbeing", start=now)],
        summary="随访" * 40, url="https://wellbeing.example/agenda", name="日程", now=now,
    )  # fmt: skip
    assert body.endswith("\r\n") and "\n" not in body.replace("\r\n", "")
    raw_lines = body.split("\r\n")[:-1]
    assert all(len(line.encode()) <= 75 for line in raw_lines)
    assert any(line.startswith(" ") for line in raw_lines)  # long lines were folded
    lines = _unfold(body)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    for prop in ("VERSION:2.0", "PRODID:-//Wellbeing//Agenda//EN"):
        assert prop in lines
    event = lines[lines.index("BEGIN:VEVENT") : lines.index("END:VEVENT")]
    keys = {line.split(":", 1)[0] for line in event}
    assert {"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "URL"} <= keys
    assert "DTSTART:20260302T010000Z" in event and "SUMMARY:" + "随访" * 40 in event
    assert all(re.fullmatch(r"[A-Z-]+[:;].*", line) for line in lines)


@given(st.text(min_size=0, max_size=400))
def test_fold_round_trips_and_respects_75_octets(value):
    line = "SUMMARY:" + ical.escape_text(value).replace("\r", "")
    folded = ical.fold(line)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == line
