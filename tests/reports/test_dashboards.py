"""Dashboards: the figures, SLA and trends, who sees names, audit, and the SVG charts."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

import pytest

from wellbeing.alerts.services import raise_alert
from wellbeing.auth.services import build_principal
from wellbeing.concerns.models import Concern
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden
from wellbeing.crisis.services import open_crisis
from wellbeing.db import utcnow
from wellbeing.followups.services import schedule_followup
from wellbeing.reports import charts, queries, services

from ..conftest import login
from ..factories import make_class, make_school, make_student, staff_set

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.fixture
def dash(db_session, env):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    other = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    g7, g8 = make_class(db_session, school, 7), make_class(db_session, school, 8)
    students = [make_student(db_session, school, g7, tier=t) for t in (0, 0, 1, 2, 3)]
    students += [make_student(db_session, school, g8, tier=t) for t in (0, 3)]
    red7, red8 = students[4], students[6]
    red8.name = "刘危机"
    make_student(db_session, school, g8, tier=3, status="left")  # not counted
    make_student(db_session, other, tier=3)
    now = utcnow()
    raise_alert(db_session, kind="urgent_concern", school_id=school.id, student_id=red7.id,
                source_id=uuid.uuid4(), tier=3, due_at=now + dt.timedelta(hours=1))  # fmt: skip
    raise_alert(db_session, kind="urgent_concern", school_id=school.id, student_id=red8.id,
                source_id=uuid.uuid4(), tier=3, due_at=now - dt.timedelta(minutes=5),
                now=now - dt.timedelta(hours=2))  # fmt: skip
    open_crisis(db_session, red8, now=now - dt.timedelta(hours=2))
    owner = users["psych_teacher"].id
    schedule_followup(
        db_session,
        None,
        students[3],
        due_at=now + dt.timedelta(days=2),
        owner_id=owner,
        source="manual",
    )
    schedule_followup(
        db_session, None, red7, due_at=now - dt.timedelta(days=1), owner_id=owner, source="manual"
    )
    schedule_followup(
        db_session,
        None,
        students[2],
        due_at=now + dt.timedelta(days=30),
        owner_id=owner,
        source="manual",
    )
    db_session.flush()
    principals = {role: build_principal(db_session, u) for role, u in users.items()}
    return {
        "school": school,
        "other": other,
        "users": users,
        "p": principals,
        "red8": red8,
        "now": now,
    }


def test_school_figures_group_by_tier_grade_and_state(db_session, dash):
    figures = queries.school_figures(db_session, dash["now"], [dash["school"].id])[
        dash["school"].id
    ]
    assert figures.tiers == {0: 3, 1: 1, 2: 1, 3: 2}
    assert (figures.alerts_open, figures.alerts_overdue) == (2, 1)
    assert figures.crises_open == 1
    assert (figures.followups_due, figures.followups_overdue) == (2, 1)
    assert queries.tier_by_grade(db_session, dash["school"].id) == {
        7: {0: 2, 1: 1, 2: 1, 3: 1}, 8: {0: 1, 1: 0, 2: 0, 3: 1},
    }  # fmt: skip
    everyone = queries.school_figures(db_session, dash["now"], None)
    assert everyone[dash["other"].id].tiers[3] == 1


def test_sla_share_and_median(db_session, dash):
    school = make_school(db_session)
    t = dt.datetime(2026, 1, 10, 1, 0, tzinfo=dt.UTC)
    now = t + dt.timedelta(days=1)
    made = []
    for acked_after in (30, 180, None):
        alert = raise_alert(db_session, kind="red_tier", school_id=school.id, source_id=uuid.uuid4(),
                            tier=3, due_at=t + dt.timedelta(hours=1), now=t)  # fmt: skip
        if acked_after is not None:
            alert.state, alert.acknowledged_at = (
                "acknowledged",
                t + dt.timedelta(minutes=acked_after),
            )
        made.append(alert)
    pending = raise_alert(db_session, kind="red_tier", school_id=school.id, source_id=uuid.uuid4(), tier=3,
                          due_at=now + dt.timedelta(hours=1), now=now - dt.timedelta(minutes=10))  # fmt: skip
    assert pending.state == "open"
    db_session.flush()
    overall, months = queries.sla(db_session, t - dt.timedelta(days=1), now, SHANGHAI, [school.id])
    assert (overall.alerts, overall.in_time, overall.pending) == (3, 1, 1)
    assert overall.median_minutes == 105 and round(overall.share, 3) == 0.333
    assert months["2026-01"].alerts == 3


def test_monthly_counts_use_local_months(db_session, dash):
    school, student = dash["school"], dash["red8"]
    reporter = dash["users"]["class_teacher"].id
    now = dt.datetime(2026, 3, 15, tzinfo=dt.UTC)
    for at in (
        dt.datetime(2026, 2, 28, 17, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 2, 10, tzinfo=dt.UTC),
    ):
        db_session.add(Concern(school_id=school.id, student_id=student.id, reporter_id=reporter, urgency="routine",
                               state="new", created_at=at, category="mood", text="x"))  # fmt: skip
    db_session.flush()
    keys, series = queries.monthly_counts(db_session, now, SHANGHAI, 3, [school.id])
    assert keys == ["2026-01", "2026-02", "2026-03"]
    # 2026-02-28 17:00 UTC is 1 March in Shanghai
    assert series["concerns"] == [0, 1, 1]
    assert "hotline" not in series
    _, district = queries.monthly_counts(db_session, now, SHANGHAI, 3, None)
    assert district["concerns"] == [0, 1, 1] and "hotline" in district


def test_school_dashboard_names_only_with_case_access(db_session, dash, audit_entries):
    red8 = dash["red8"]
    data = services.school_dashboard(
        db_session, dash["p"]["psych_teacher"], dash["school"], now=dash["now"], tz=SHANGHAI
    )
    shown = {n.student.id for n in data["names"]}
    assert red8.id in shown and len(shown) == 3  # orange + two reds
    assert next(n for n in data["names"] if n.student.id == red8.id).crisis_opened_at is not None
    entry = audit_entries(AuditAction.DASHBOARD_VIEW)[-1]
    assert set(entry.detail["students"]) == {str(i) for i in shown}
    counsellor = services.school_dashboard(
        db_session, dash["p"]["counsellor"], dash["school"], now=dash["now"], tz=SHANGHAI
    )
    assert counsellor["names"] == [] and counsellor["figures"].tiers[3] == 2
    assert audit_entries(AuditAction.DASHBOARD_VIEW)[-1].detail["students"] == []
    with pytest.raises(Forbidden):
        services.school_dashboard(
            db_session, dash["p"]["psych_teacher"], dash["other"], now=dash["now"], tz=SHANGHAI
        )
    with pytest.raises(Forbidden):
        services.school_dashboard(
            db_session, dash["p"]["class_teacher"], dash["school"], now=dash["now"], tz=SHANGHAI
        )


def test_district_dashboard_escalated_names_for_counsellors_only(db_session, dash):
    dash["red8"].district_involved = True
    db_session.flush()
    data = services.district_dashboard(
        db_session, dash["p"]["counsellor"], now=dash["now"], tz=SHANGHAI
    )
    assert [n.student.id for n in data["names"]] == [dash["red8"].id]
    assert data["figures"][dash["school"].id].tiers[3] == 2 and data["totals"].tiers[3] >= 3
    supervisor = services.district_dashboard(
        db_session, dash["p"]["supervisor"], now=dash["now"], tz=SHANGHAI
    )
    assert supervisor["names"] == [] and supervisor["totals"].tiers == data["totals"].tiers
    with pytest.raises(Forbidden):
        services.district_dashboard(
            db_session, dash["p"]["school_leader"], now=dash["now"], tz=SHANGHAI
        )


def test_dashboard_pages_render_svg_and_names(client, dash):
    login(client, dash["users"]["school_leader"])
    page = client.get("/reports/school").get_data(as_text=True)
    assert "刘危机" in page and "<svg" in page and "<polyline" in page
    assert 'id="school-crises-open"' in page and "<script" not in page
    login(client, dash["users"]["supervisor"])
    page = client.get("/reports/district").get_data(as_text=True)
    assert "刘危机" not in page and 'id="district-schools"' in page
    login(client, dash["users"]["counsellor"])
    page = client.get(f"/reports/school?school={dash['school'].id}").get_data(as_text=True)
    assert "刘危机" not in page and "<svg" in page
    assert client.get(f"/reports/school?school={uuid.uuid4()}").status_code == 404


def test_chart_geometry():
    chart = charts.bar_chart("t", ["2026-01", "2026-02", "2026-03"], [1.0, 0.5, None], percent=True)
    assert len(chart.bars) == 2 and chart.x_labels[0][1] == "26-01"
    full, half = chart.bars
    assert (
        full.height == pytest.approx(2 * half.height)
        and full.label == "100%"
        and half.css == "bar-bad"
    )
    assert full.y + full.height == pytest.approx(chart.baseline)
    lines = charts.line_chart("t", ["a", "b"], {"x": [0, 8], "y": [3, 3]}, {"x": "X"})
    assert [line.name for line in lines.lines] == ["X", "y"]
    assert lines.lines[0].dots[0][1] == pytest.approx(chart.baseline)
    assert lines.y_ticks[-1][1] == "8"


def _number(page: str, tile: str) -> str:
    start = page.index(f'id="{tile}"><span class="number">') + len(
        f'id="{tile}"><span class="number">'
    )
    return page[start : page.index("<", start)]


def test_work_queues_and_trends_are_suppressed_beside_the_tiers(client, dash):
    """Issue 16: not only the tier counts; every count a leader, the district or a supervisor
    sees (open alerts, crises, follow-ups, the trends) is suppressed like them."""
    login(client, dash["users"]["psych_teacher"])
    page = client.get("/reports/school").get_data(as_text=True)
    assert _number(page, "school-crises-open") == "1" and _number(page, "school-alerts-open") == "2"
    assert _number(page, "school-followups-due") == "2"
    login(client, dash["users"]["school_leader"])
    page = client.get("/reports/school").get_data(as_text=True)
    assert _number(page, "school-followups-due") == "&lt;10"
    # the alert and crisis queues the leader works through by name: the list they open
    assert _number(page, "school-alerts-open") == "2" and _number(page, "school-crises-open") == "1"
    trends = page[page.index("<caption>Trends by month") :]
    trends = trends[: trends.index("</table>")]
    assert "&lt;10" in trends and "<td>2</td>" not in trends and "<td>1</td>" not in trends
    login(client, dash["users"]["supervisor"])
    page = client.get("/reports/district").get_data(as_text=True)
    row = page[page.index(f'id="school-row-{dash["school"].code}"') :]
    row = row[: row.index("</tr>")]
    assert "<td>1</td>" not in row and "<td>2</td>" not in row and "&lt;10" in row
