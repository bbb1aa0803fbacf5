"""Issue 13 B.5 in a real browser: a screening result with a critical answer raised a red
alert and opened a crisis; the psychology teacher goes from the alert to the screening history
(no scores on the alert page) and from the history and the review queue back to the alert and
the crisis."""

from __future__ import annotations

from sqlalchemy import select

from wellbeing.alerts.models import Alert
from wellbeing.core.authz import Role
from wellbeing.screening.services import record_answers

from ..factories import make_user
from ..screening.helpers import open_campaign, phq, school_with_students
from .helpers import shoot, sign_in


def _world(live_server):  # type: ignore[no-untyped-def]
    with live_server.db.session() as session:
        school, _k, students = school_with_students(session, 2)
        psych = make_user(session, live_server.env.settings, Role.PSYCH_TEACHER, school=school)
        campaign = open_campaign(session, [school], name="秋季心理筛查")
        answers = {"phq9": {f"phq9_{n + 1}": v for n, v in enumerate(phq(4, 2))}}
        record_answers(session, None, campaign, students[0], answers)
        session.flush()
        alert = session.scalars(select(Alert).where(Alert.student_id == students[0].id)).one()
        return {"psych": psych.username, "alert": str(alert.id), "student": str(students[0].id)}


def test_alert_and_screening_result_link_both_ways(live_server, browser_page):  # type: ignore[no-untyped-def]
    world = _world(live_server)
    base, page = live_server.url, browser_page
    sign_in(page, base, world["psych"])
    page.goto(f"{base}/alerts")
    shoot(page, "link-alert-inbox")
    page.goto(f"{base}/alerts/{world['alert']}")
    screening = page.locator("[data-testid=linked-screening] a")
    assert screening.count() == 1 and "PHQ-9" in screening.inner_text()
    assert page.locator("[data-testid=linked-crisis] a").count() == 1
    shoot(page, "link-alert-detail")
    screening.click()
    page.wait_for_url(f"**/students/{world['student']}/screening")
    assert page.locator(f"[data-testid=linked-alert] a[href$='{world['alert']}']").count() == 1
    assert page.locator("[data-testid=linked-crisis] a").count() == 1
    shoot(page, "link-screening-history")
    page.goto(f"{base}/screening/review")
    assert page.locator("[data-testid=review-linked] [data-testid=linked-alert]").count() == 1
    shoot(page, "link-screening-review")
    page.locator("[data-testid=review-linked] [data-testid=linked-crisis] a").click()
    page.wait_for_url("**/crisis/*")
    assert page.locator("[data-testid=linked-alert] a").count() == 1
    shoot(page, "link-crisis-detail")
