"""Completed follow-ups stay readable (audited), and the agenda pages by calendar week."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given
from hypothesis import strategies as st

from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.db import utcnow
from wellbeing.followups import queries, services

from ..conftest import login
from ..factories import make_user
from .helpers import principal, school_world


def _schedule(session, student, owner, due):  # type: ignore[no-untyped-def]
    return services.schedule_followup(
        session, None, student, due_at=due, owner_id=owner.id, source="manual"
    )


def _completed(db_session, env):  # type: ignore[no-untyped-def]
    school, staff, student = school_world(db_session, env.settings)
    psych = staff["psych_teacher"]
    psych.display_name = "周老师"
    fu = _schedule(db_session, student, psych, utcnow() - dt.timedelta(hours=3))
    services.complete_followup(
        db_session,
        principal(db_session, psych),
        fu,
        outcome="not_seen",
        note="学生请病假，明天再约",
    )
    db_session.flush()
    return school, staff, student, fu


def test_a_completed_followup_is_readable_and_the_read_audited(
    client, db_session, env, audit_entries
):
    _school, staff, student, fu = _completed(db_session, env)
    login(client, staff["school_leader"])  # may read the record, did not complete it
    response = client.get(f"/followups/{fu.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "学生请病假，明天再约" in html and "Not seen" in html and "周老师" in html
    assert 'data-testid="followup-state">Done<' in html and ">not_seen<" not in html
    [entry] = audit_entries(AuditAction.FOLLOWUP_VIEW)
    assert entry.object_id == str(fu.id) and entry.student_id == student.id
    assert {"note", "outcome", "completed_by"} <= set(entry.fields)
    assert "病假" not in str(entry.detail)


def test_the_record_outcome_page_of_a_closed_followup_leads_to_what_was_recorded(
    client, db_session, env
):
    _school, staff, _student, fu = _completed(db_session, env)
    login(client, staff["psych_teacher"])
    response = client.get(f"/followups/{fu.id}/complete")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/followups/{fu.id}")
    assert "学生请病假" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_only_those_who_may_read_the_record_read_a_followup(client, db_session, env):
    _school, staff, student, fu = _completed(db_session, env)
    counsellor = make_user(db_session, env.settings, Role.COUNSELLOR)
    db_session.flush()
    for user in (counsellor, staff["class_teacher"], staff["supervisor"]):
        login(client, user)
        assert client.get(f"/followups/{fu.id}").status_code == 403
    student.district_involved = True
    db_session.flush()
    login(client, counsellor)
    assert "学生请病假" in client.get(f"/followups/{fu.id}").get_data(as_text=True)


def _week_of(moment: dt.datetime, tz) -> dt.date:  # type: ignore[no-untyped-def]
    return queries.week_start(moment.astimezone(tz).date())


def test_the_agenda_pages_by_week_and_keeps_completed_ones(client, db_session, env):
    _school, staff, student = school_world(db_session, env.settings)
    psych = staff["psych_teacher"]
    tz = env.settings.tz
    now = utcnow()
    this_monday = _week_of(now, tz)
    noon = dt.time(12, 0)

    def at(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, noon, tzinfo=tz).astimezone(dt.UTC)

    next_fu = _schedule(db_session, student, psych, at(this_monday + dt.timedelta(days=8)))
    far_fu = _schedule(db_session, student, psych, at(this_monday + dt.timedelta(days=15)))
    past = _schedule(db_session, student, psych, at(this_monday - dt.timedelta(days=5)))
    services.complete_followup(
        db_session, principal(db_session, psych), past, outcome="seen", note="ok"
    )
    db_session.flush()
    login(client, psych)

    def week_html(query: str = "") -> str:
        html = client.get(f"/agenda{query}").get_data(as_text=True)
        return html.split('data-testid="agenda-week"')[1].split("</section>")[0]

    current = week_html()
    assert f"/followups/{next_fu.id}" not in current and "This week" in current
    nxt = this_monday + dt.timedelta(days=7)
    assert f'href="/agenda?week={nxt.isoformat()}"' in current
    following = week_html(f"?week={nxt.isoformat()}")
    assert f"/followups/{next_fu.id}/complete" in following
    assert f"/followups/{far_fu.id}" not in following
    assert f'href="/agenda?week={this_monday.isoformat()}"' in following  # back again
    # any day of a week opens that week
    assert f"/followups/{far_fu.id}/complete" in week_html(
        f"?week={(this_monday + dt.timedelta(days=20)).isoformat()}"
    )
    previous = week_html(f"?week={(this_monday - dt.timedelta(days=7)).isoformat()}")
    assert f'href="/followups/{past.id}"' in previous and "Seen the student" in previous


def test_the_week_heading_follows_chinese_conventions(client, db_session, env):
    _school, staff, _student = school_world(db_session, env.settings)
    psych = staff["psych_teacher"]
    psych.locale = "zh_CN"
    db_session.flush()
    login(client, psych)
    html = client.get("/agenda?week=2026-03-04").get_data(as_text=True)
    heading = re.search(r'data-testid="week-range">([^<]*)<', html).group(1)  # type: ignore[union-attr]
    assert heading.strip() == "2026年3月2日（周一）至3月8日（周日）"


def test_a_week_that_is_not_a_date_is_refused_with_a_message(client, db_session, env):
    _school, staff, _student = school_world(db_session, env.settings)
    login(client, staff["psych_teacher"])
    response = client.get("/agenda?week=next-tuesday")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "“next-tuesday” is not a date (YYYY-MM-DD): this week is shown." in html


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)))
def test_a_week_starts_on_the_monday_on_or_before_the_day(day):  # type: ignore[no-untyped-def]
    start = queries.week_start(day)
    assert start.weekday() == 0 and start <= day < start + dt.timedelta(days=7)


def test_the_growth_record_lists_the_students_followups(client, db_session, env, audit_entries):
    _school, staff, student, fu = _completed(db_session, env)
    login(client, staff["school_leader"])
    html = client.get(f"/students/{student.id}").get_data(as_text=True)
    part = html.split('id="section-followups"')[1].split("</section>")[0]
    assert f'href="/followups/{fu.id}"' in part and "Not seen" in part
    assert "病假" not in part  # the note only on the follow-up's own (audited) page
    entry = audit_entries(AuditAction.STUDENT_VIEW)[-1]
    assert {"followup.state", "followup.outcome"} <= set(entry.fields)
