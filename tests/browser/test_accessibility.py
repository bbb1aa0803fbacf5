"""Issue 13 B.7 in a real browser (zh_CN) on the demo district: axe-core (vendored, injected by
the test, never served) finds no serious or critical violation on each role's home page (the
workbench at ``/``), a student's record, an alert and a crisis; and each role's home page is
saved at 1280×800 and 390×844 for the developer to look at (``build/screens/`` under the
repository, or ``$WELLBEING_SCREENS``; the folder is printed)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from wellbeing.alerts.models import Alert
from wellbeing.crisis.models import Crisis
from wellbeing.demo import demo_logins, seed_demo
from wellbeing.orgs.models import School
from wellbeing.students.models import Student

from . import axe
from .helpers import SIZES, screens_dir, sign_in_as


def _shoot(page, folder: Path, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    saved = []
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        path = folder / f"{name}-{width}x{height}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path.name)
    page.set_viewport_size({"width": 1366, "height": 768})
    return saved


def _case_pages(live_server) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """A psychology teacher of a school with an open crisis, and the record, alert and crisis
    pages they look at."""
    with live_server.db.session() as s:
        crisis = s.scalars(select(Crisis).order_by(Crisis.opened_at)).first()
        assert crisis is not None, "the demo seeds an open crisis"
        student = s.get(Student, crisis.student_id)
        school = s.get(School, student.school_id)
        alert = s.scalars(select(Alert).where(Alert.student_id == student.id)).first()
        assert alert is not None, "the demo's crisis came with an alert"
        prefix = next(login.username.split(".")[0] for login in demo_logins()
                      if login.username.endswith(".psych") and login.where == school.name)  # fmt: skip
        return f"{prefix}.psych", [
            f"/students/{student.id}",
            f"/alerts/{alert.id}",
            f"/crisis/{crisis.id}",
        ]


def test_every_home_page_and_the_case_pages_pass_axe(live_server, browser_page, capsys):  # type: ignore[no-untyped-def]
    seed_demo(live_server.db, live_server.env.settings)
    page, base = browser_page, live_server.url
    axe.install(page.context)
    folder = screens_dir()
    problems: list[str] = []
    shots: list[str] = []
    for login in demo_logins():
        sign_in_as(page, live_server, login.username)
        page.goto(f"{base}/")
        assert page.url.rstrip("/") == base, f"{login.username} was sent to {page.url}"
        problems += axe.serious_violations(page, f"{login.username} /")
        shots += _shoot(page, folder, f"home-{login.username}")
    psych, urls = _case_pages(live_server)
    sign_in_as(page, live_server, psych)
    for url in urls:
        response = page.goto(f"{base}{url}")
        assert response is not None and response.status == 200, url
        problems += axe.serious_violations(page, f"{psych} {url.split('/')[1]}")
    with capsys.disabled():
        print(f"\nscreenshots of each role's home page ({len(shots)}): {folder}")
    assert not problems, "axe found serious or critical violations:\n  " + "\n  ".join(problems)
