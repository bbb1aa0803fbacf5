"""Issue 16 item 7 in a real browser (zh_CN): a district counsellor opens the reports, a district
report (schools as rows) shows its chart beside its data table with small counts hidden and
explained, in Chinese with no raw code; its XLSX downloads through the browser and opens with
openpyxl: Chinese headings, hidden counts as "<10" and "*", a school named like a formula
shown as text. The print view is a page of its own.

The report is the library's own "students by tier" (``reports/library/tiers.py``), as the
district centre opens it from the menu.
With ``WELLBEING_SCREENS=<dir>`` the index, the report and the print view are saved as
screenshots (1280×800 and 390×844)."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from ..factories import make_class, make_school, make_student, staff_set
from . import axe
from .helpers import shoot, sign_in_as

FORMULA_SCHOOL = "=cmd|' /c calc'!A1"
HEADINGS = [
    "学校",
    "无风险",
    "一般关注",
    "重点关注",
    "危机",
    "在读学生",
    "重点关注占比",
    "危机占比",
]
# The hidden counts of the tiers' columns in the table's body (not the totals).
HIDDEN_CELLS_JS = """() => [...document.querySelectorAll('[data-testid=report-table] tbody tr')]
  .reduce((n, tr) => n + [...tr.querySelectorAll('td')].slice(0, 4)
    .filter(td => td.classList.contains('hidden-count')).length, 0)"""


def _world(live_server) -> str:  # type: ignore[no-untyped-def]
    with live_server.db.session() as session:
        a = make_school(session, name="第一实验中学")
        b = make_school(session, name=FORMULA_SCHOOL)
        users = staff_set(session, live_server.env.settings, a)
        a7, a8 = make_class(session, a, 7, "1班"), make_class(session, a, 8, "2班")
        b7 = make_class(session, b, 7, "3班")
        for klass, school, tiers in (
            (a7, a, [0] * 20 + [3]), (a8, a, [0] * 15 + [1] * 12), (b7, b, [0] * 12 + [2]),
        ):  # fmt: skip
            for tier in tiers:
                make_student(session, school, klass, tier=tier)
        return str(users["counsellor"].username)


def test_a_district_report_in_chinese_and_its_xlsx(live_server, browser_page, tmp_path):  # type: ignore[no-untyped-def]
    counsellor = _world(live_server)
    page = browser_page
    axe.install(page.context)
    sign_in_as(page, live_server, counsellor)
    base = live_server.url

    page.goto(f"{base}/reports/")
    link = page.locator("#report-tiers a")
    assert link.inner_text() == "各风险等级学生人数"
    assert page.locator(".main-nav a[href='/reports/']").count() == 1  # the menu entry
    shoot(page, "reports-index")

    with page.expect_navigation():
        link.click()
    assert page.locator("h1").inner_text() == "各风险等级学生人数"
    assert "全区所有学校" in page.locator("[data-testid=report-summary]").inner_text()
    table = page.locator("[data-testid=report-table]").first
    headings = table.locator("thead th").all_inner_texts()
    assert headings == HEADINGS
    body = table.inner_text()
    assert "<10" in body and "第一实验中学" in body
    assert "“<10”" in page.locator("#suppression-note").inner_text()
    svg = page.locator("figure.report-chart svg").first
    assert svg.locator("text.hidden-mark").count() >= 1
    # every hidden count of the table is a mark on the chart's axis, never a bar (of zero)
    hidden = page.evaluate(HIDDEN_CELLS_JS)
    assert hidden >= 2 and svg.locator("text.hidden-mark").count() == hidden
    tips = svg.locator("rect title").all_text_contents()
    assert tips and not [t for t in tips if "<10" in t or t.endswith("*")]
    problems = axe.serious_violations(page, "report page")
    shoot(page, "report-district")

    with page.expect_download() as download_info:
        page.click("[data-testid=download-xlsx]")
    download = download_info.value
    assert download.suggested_filename.startswith(
        "各风险等级学生人数-"
    ) and download.suggested_filename.endswith(".xlsx")
    copy = Path(tmp_path) / "report.xlsx"
    download.save_as(copy)
    sheet = load_workbook(copy).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "各风险等级学生人数" and rows[1][0] == "当前各风险等级学生人数"
    header = next(r for r in rows if r[0] == "学校")
    assert list(header) == HEADINGS
    values = [v for r in rows for v in r if v is not None]
    assert "<10" in values and "*" in values
    assert "'" + FORMULA_SCHOOL in values and FORMULA_SCHOOL not in values
    total = next(r for r in rows if r[0] == "合计")
    assert total[5] == 61  # every student of both schools, a number
    assert any("“<10”" in str(v) for v in values)  # what the marks mean, under the table

    with page.expect_navigation():
        page.click("[data-testid=print-view]")
    assert page.locator("h1").inner_text() == "各风险等级学生人数"
    assert page.locator(".site-header").count() == 0  # no shell on the printed page
    assert "本次打印已记录" in page.locator("[data-testid=print-foot]").inner_text()
    shoot(page, "report-print")
    assert problems == [], problems


def test_every_report_of_the_library_renders_in_chinese(live_server, browser_page):  # type: ignore[no-untyped-def]
    """Each report of the catalog, as the district sees it and as one school's leader sees it:
    a page (no error), its filters and tables in Chinese (the language guard reads them)."""
    from wellbeing.reports import catalog

    counsellor = _world(live_server)
    with live_server.db.session() as session:
        from sqlalchemy import select

        from wellbeing.auth.models import User
        from wellbeing.core.authz import Role

        leader = next(
            u.username for u in session.scalars(select(User))
            if any(m.role == Role.SCHOOL_LEADER for m in u.memberships)
        )  # fmt: skip
    page = browser_page
    for username in (counsellor, leader):
        sign_in_as(page, live_server, username)
        for key in catalog.specs():
            response = page.goto(f"{live_server.url}/reports/{key}")
            assert response is not None and response.status == 200, (username, key)
            assert page.locator("[data-testid=report-filters]").count() == 1
            if username == counsellor:
                shoot(page, f"library-{key}")
