"""Issue 12 item 20 in a real browser: the supervisor's audit console reads well at 1280×800
(school names on a line, dates on at most two lines, no cut labels) and is usable at 390×844
(each entry a card, nothing wider than the screen), in Chinese with no raw codes."""

from __future__ import annotations

import datetime as dt
import uuid

from flask import Flask

from wellbeing.auth.services import start_session
from wellbeing.core import audit
from wellbeing.core.audit import Actor, AuditAction, Outcome

from ..factories import make_school, make_student, staff_set

SCHOOL = "北京市海淀区第一实验中学"


def _world(live_server) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with live_server.db.session() as session:
        school = make_school(session, name=SCHOOL)
        users = staff_set(session, live_server.env.settings, school)
        student = make_student(session, school, name="周小雨")
        day = dt.datetime(2026, 5, 11, 2, 0, tzinfo=dt.UTC)
        rows = [
            (AuditAction.STUDENT_VIEW, "psych_teacher", Outcome.ALLOWED, None),
            (AuditAction.ACCESS_DENIED, "class_teacher", Outcome.DENIED, None),
            (AuditAction.BREAK_GLASS_START, "counsellor", Outcome.ALLOWED, uuid.uuid4()),
            (AuditAction.RECORD_EXPORT, "psych_teacher", Outcome.ALLOWED, None),
        ]
        for n, (action, role, outcome, grant) in enumerate(rows):
            user = users[role]
            entry = audit.record(
                session, action, object_type="student", object_id=uuid.uuid4(),
                student_id=student.id, school_id=school.id, outcome=outcome,
                fields=["screening.answers", "screening.scores"],
                actor=Actor(user_id=user.id, username=user.username, role=role,
                            break_glass_id=grant),
            )  # fmt: skip
            entry.occurred_at = day + dt.timedelta(minutes=n)
        supervisor = session.merge(users["supervisor"])
        token = start_session(session, supervisor, "127.0.0.1", True).token
    return {"sid": token}


def _sign_in_as_supervisor(page, live_server, sid: str) -> None:  # type: ignore[no-untyped-def]
    signer = Flask("cookies")
    signer.secret_key = live_server.env.settings.secret_key
    value = signer.session_interface.get_signing_serializer(signer).dumps({"sid": sid})
    page.context.add_cookies(
        [{"name": "wellbeing_session", "value": value, "url": live_server.url}]
    )


def _column(page, heading: str) -> int:  # type: ignore[no-untyped-def]
    headings = page.locator("[data-testid=audit-entries] thead th").all_inner_texts()
    return [h.strip() for h in headings].index(heading) + 1


def _line_count(page, selector: str) -> float:  # type: ignore[no-untyped-def]
    return page.evaluate(
        """(sel) => { const el = document.querySelector(sel);
             const lh = parseFloat(getComputedStyle(el).lineHeight) || 20;
             const r = document.createRange(); r.selectNodeContents(el);
             return r.getBoundingClientRect().height / lh; }""",
        selector,
    )


def test_audit_console_reads_well_wide_and_narrow(live_server, browser_page):
    world = _world(live_server)
    page = browser_page
    _sign_in_as_supervisor(page, live_server, world["sid"])

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/audit/")
    table = page.locator("[data-testid=audit-entries]")
    assert table.is_visible()
    row = "[data-testid=audit-entries] tbody tr:last-child"
    first_school = f"{row} td:nth-child({_column(page, '学校')})"
    assert page.locator(first_school).inner_text() == SCHOOL
    assert _line_count(page, first_school) < 2.5  # not one character per line
    assert _line_count(page, f"{row} td:nth-child({_column(page, '时间')})") < 2.5
    # Labels, not codes, and the whole table fits the page.
    text = table.inner_text()
    assert "打开学生档案" in text and "访问被拒绝" in text and "case:student:view" not in text
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 1280

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    assert page.locator("[data-testid=audit-entries] thead").is_hidden()
    cell = page.locator(first_school)
    assert cell.evaluate("el => getComputedStyle(el).display") == "block"
    assert cell.evaluate("el => getComputedStyle(el, '::before').content").strip('"') == "学校"
    assert _line_count(page, first_school) < 2.5
