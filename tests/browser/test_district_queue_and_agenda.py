"""Issue 12 points 7 and 8 in a real browser (zh_CN): the district dashboard's count of
unacknowledged alerts is what the counsellor's district queue lists, filterable by school; the
agenda pages by week and a completed follow-up shows its note and outcome.

With ``WELLBEING_SCREENS=<dir>`` the pages are also saved there at 1280×800 and 390×844."""

from __future__ import annotations

import datetime as dt
import uuid

from wellbeing.alerts import services as alerts
from wellbeing.auth.services import build_principal, start_session
from wellbeing.db import utcnow
from wellbeing.followups import services as followups
from wellbeing.followups.queries import week_start

from ..factories import make_class, make_school, make_student, make_user
from .helpers import shoot, use_session


def _world(live_server):  # type: ignore[no-untyped-def]
    settings = live_server.env.settings
    now = utcnow()
    with live_server.db.session() as s:
        school_a = make_school(s, name="北京路小学")
        school_b = make_school(s, name="安定门中学")
        psych = make_user(s, settings, "psych_teacher", school=school_a)
        make_user(s, settings, "school_leader", school=school_a)
        counsellor = make_user(s, settings, "counsellor")
        klass = make_class(s, school_a)
        involved = make_student(s, school_a, klass, name="赵关注", tier=3, district_involved=True)
        plain = make_student(s, school_a, klass, name="钱学校", tier=3)
        b_plain = make_student(s, school_b, name="孙未转", tier=2)
        b_inv = make_student(s, school_b, name="李已转", tier=3, district_involved=True)
        for kind, student, hours, tier in (
            ("red_tier", involved, 0.5, 3), ("red_tier", plain, 0.2, 3),
            ("urgent_concern", b_plain, 26, 2), ("critical_item", b_inv, 3, 3),
            ("break_glass", involved, 0, None),
        ):  # fmt: skip
            alerts.raise_alert(
                s, kind=kind, school_id=student.school_id, student_id=student.id,
                source_id=uuid.uuid4(), tier=tier, now=now - dt.timedelta(hours=hours),
            )  # fmt: skip
        tz = settings.tz
        monday = week_start(now.astimezone(tz).date())

        def at(day: dt.date, hour: int) -> dt.datetime:
            return dt.datetime.combine(day, dt.time(hour), tzinfo=tz).astimezone(dt.UTC)

        for student, day, hour in ((involved, monday + dt.timedelta(days=8), 9),
                                   (plain, monday + dt.timedelta(days=10), 14)):  # fmt: skip
            followups.schedule_followup(
                s, None, student, due_at=at(day, hour), owner_id=psych.id, source="manual"
            )
        done = followups.schedule_followup(
            s, None, plain, due_at=at(monday - dt.timedelta(days=4), 10), owner_id=psych.id,
            source="cadence",
        )  # fmt: skip
        followups.complete_followup(
            s, build_principal(s, psych), done, outcome="not_seen",
            note="学生请病假，已与班主任约定下周一再谈。",
        )  # fmt: skip
        sids = {
            "counsellor": start_session(s, s.merge(counsellor), "127.0.0.1", True).token,
            "psych": start_session(s, s.merge(psych), "127.0.0.1", True).token,
        }
        return {"sids": sids, "school_b": str(school_b.id), "done": str(done.id)}


def test_dashboard_count_is_the_queue_and_the_queue_filters(live_server, browser_page):
    world = _world(live_server)
    base, page = live_server.url, browser_page
    use_session(page, live_server, world["sids"]["counsellor"])
    page.goto(f"{base}/reports/district")
    shown = int(page.locator("#district-alerts-open .number").inner_text().strip())
    page.get_by_role("link", name="区级预警").click()
    page.wait_for_url(f"{base}/district/alerts")
    assert (
        shown == 3
    )  # 赵关注 (involved), 孙未转 (escalated), 李已转 (both); not 钱学校, not break-glass
    assert page.get_by_test_id("queue-total").inner_text().strip() == "共 3 条预警"
    assert page.get_by_test_id("queue-row").count() == shown
    text = page.get_by_test_id("queue-list").inner_text()
    assert "赵关注" in text and "孙未转" not in text and "钱学校" not in text
    assert "已上报至区中心" in text and "区中心已介入的学生" in text
    shoot(page, "district-queue")
    page.select_option("#school", world["school_b"])
    page.get_by_role("button", name="显示").click()
    assert page.get_by_test_id("queue-row").count() == 2
    assert "安定门中学" in page.get_by_test_id("queue-list").inner_text()


def test_agenda_pages_by_week_and_shows_a_completed_followup(live_server, browser_page):
    world = _world(live_server)
    base, page = live_server.url, browser_page
    use_session(page, live_server, world["sids"]["psych"])
    page.goto(f"{base}/agenda")
    heading = page.get_by_test_id("week-range").inner_text()
    assert "本周" in heading and "年" in heading and "至" in heading
    page.get_by_test_id("next-week").click()
    next_week = page.get_by_test_id("agenda-week").inner_text()
    assert "赵关注" in next_week and "钱学校" in next_week and "星期" in next_week
    shoot(page, "agenda-next-week")
    page.get_by_test_id("this-week").click()
    page.get_by_test_id("prev-week").click()
    past = page.get_by_test_id("agenda-week").inner_text()
    assert "完成：未见到学生" in past
    page.get_by_test_id("followup-view").click()
    page.wait_for_url(f"{base}/followups/{world['done']}")
    assert (
        "学生请病假，已与班主任约定下周一再谈。"
        in page.get_by_test_id("followup-note").inner_text()
    )
    assert page.get_by_test_id("followup-outcome").inner_text().strip() == "未见到学生"
    shoot(page, "followup-completed")
