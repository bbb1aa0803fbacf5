"""An admin enrols TOTP, uploads a roster with errors (nothing is written, the rows are
listed), then the corrected file (students imported, new classes listed)."""

from __future__ import annotations

import pyotp
from sqlalchemy import func, select

from wellbeing.students.models import Student

from ..factories import PASSWORD, make_school, make_user
from .test_sign_in import submit_login

HEADER = "学号,姓名,性别,出生日期,年级,班级,监护人,监护人电话\n"
GOOD_ROWS = [
    "20250101,王小明,男,2012-03-04,初一,1班,王建国,13800000001",
    "20250102,李小红,女,2012-07-19,七年级,1班,李芳,13800000002",
    "20250103,张伟,男,2011-11-30,初二,2班,张强,13800000003",
]


def _enrol(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_url("**/account/mfa/enrol**")
    secret = page.locator("#totp-secret").inner_text().strip().replace(" ", "")
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("main button[type=submit], main input[type=submit]")
    page.click("main a[role=button]")  # past the recovery codes, shown once
    page.wait_for_url(f"{base_url}/")


def test_admin_uploads_a_bad_roster_then_a_good_one(live_server, browser_page, tmp_path):
    with live_server.db.session() as session:
        school = make_school(session, code="sch-upload", name="实验中学")
        school_id = school.id
        username = make_user(session, live_server.env.settings, "admin").username
    bad = tmp_path / "roster-bad.csv"
    bad.write_text(HEADER + GOOD_ROWS[0] + "\n" + "20250102,李小红,女,2012-13-45,十五年级,1班,李芳,138\n",
                   encoding="utf-8-sig")  # fmt: skip
    good = tmp_path / "roster-good.csv"
    good.write_bytes((HEADER + "\n".join(GOOD_ROWS) + "\n").encode("gb18030"))

    page = browser_page
    submit_login(page, live_server.url, username, PASSWORD)
    _enrol(page, live_server.url)

    page.goto(f"{live_server.url}/students/import")
    page.select_option("#roster-form select[name=school]", str(school_id))
    page.set_input_files("#roster-form input[name=file]", str(bad))
    page.click("#roster-form button[type=submit], #roster-form input[type=submit]")
    page.wait_for_selector("#roster-errors")
    report = page.locator("#roster-errors").inner_text()
    assert "3" in report  # the bad row is reported by its row number
    with live_server.db.session() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Student).where(Student.school_id == school_id)
            )
            == 0
        )

    page.select_option("#roster-form select[name=school]", str(school_id))
    page.set_input_files("#roster-form input[name=file]", str(good))
    page.click("#roster-form button[type=submit], #roster-form input[type=submit]")
    page.wait_for_selector("#roster-summary")
    assert page.locator("#roster-errors").count() == 0
    with live_server.db.session() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Student).where(Student.school_id == school_id)
            )
            == 3
        )
