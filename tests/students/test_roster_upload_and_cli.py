"""The roster import as administrators use it: the upload page and `wellbeing roster import`."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from wellbeing.cli import main
from wellbeing.core import crypto
from wellbeing.core.authz import Role
from wellbeing.orgs.models import SchoolClass
from wellbeing.orgs.services import create_school, ensure_district
from wellbeing.students.models import Student

from ..conftest import login
from ..factories import make_school, make_user

GOOD = "学号,姓名,性别,出生日期,年级,班级\nK1,张小明,男,2012-03-05,初一,1班\nK2,李华,女,2012-07-09,7,2班\n"
BAD = GOOD + "K3,王五,男,2012-13-01,7,1班\nK1,赵六,女,2012-01-01,高四,1班\n"


def _students(session, school) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).where(Student.school_id == school.id))


def _upload(client, school, text: str, filename: str = "名单.csv", **extra):  # type: ignore[no-untyped-def]
    data = {
        "school": str(school.id),
        "file": (io.BytesIO(text.encode("gb18030")), filename),
        **extra,
    }
    return client.post("/students/import", data=data, content_type="multipart/form-data")


# --------------------------------------------------------------------------- upload page


def test_upload_with_errors_shows_report_and_writes_nothing(client, db_session, env):
    school = make_school(db_session)
    login(client, make_user(db_session, env.settings, Role.ADMIN))
    response = _upload(client, school, BAD)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    report = html[html.index('id="roster-errors"') : html.index("</table>")]
    assert report.count("<tr>") == 1 + 3  # header + three problems
    assert "<td>4</td><td>出生日期</td>" in report and "<td>5</td><td>学号</td>" in report
    assert "王五" not in html and "赵六" not in html
    assert _students(db_session, school) == 0
    assert db_session.scalar(select(func.count()).where(SchoolClass.school_id == school.id)) == 0


def test_good_upload_imports_and_shows_summary(client, db_session, env):
    school = make_school(db_session)
    login(client, make_user(db_session, env.settings, Role.ADMIN))
    response = _upload(client, school, GOOD)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="roster-summary"' in html and 'data-count="created">2<' in html
    assert _students(db_session, school) == 2
    again = _upload(client, school, GOOD).get_data(as_text=True)
    assert 'data-count="unchanged">2<' in again and 'data-count="created">0<' in again


def test_dry_run_upload_writes_nothing(client, db_session, env):
    school = make_school(db_session)
    login(client, make_user(db_session, env.settings, Role.ADMIN))
    html = _upload(client, school, GOOD, dry_run="y").get_data(as_text=True)
    assert 'id="roster-summary"' in html and 'data-count="created">2<' in html
    assert _students(db_session, school) == 0


def test_upload_refuses_other_file_types(client, db_session, env):
    school = make_school(db_session)
    login(client, make_user(db_session, env.settings, Role.ADMIN))
    response = _upload(client, school, GOOD, filename="roster.pdf")
    assert response.status_code == 400 and "roster-summary" not in response.get_data(as_text=True)


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_env(fresh_env, tmp_path):  # type: ignore[no-untyped-def]
    with fresh_env.db.session() as session:
        ensure_district(session)
        create_school(session, None, "NO1", "第一中学")
    env_vars = {
        "WELLBEING_DATABASE_URL": fresh_env.settings.database_url,
        "WELLBEING_KEY_FILE": str(fresh_env.key_file),
    }

    def run(*args: str):  # type: ignore[no-untyped-def]
        result = CliRunner().invoke(main, list(args), env=env_vars)
        crypto.install_keyring(fresh_env.keyring)  # the command uninstalls its keyring
        return result

    def count() -> int:
        with fresh_env.db.session() as session:
            return session.scalar(select(func.count()).select_from(Student))

    return run, count, tmp_path


def test_cli_imports_then_is_idempotent(cli_env):
    run, count, tmp = cli_env
    (tmp / "good.csv").write_bytes(GOOD.encode("utf-8-sig"))
    first = run("roster", "import", str(tmp / "good.csv"), "--school", "NO1")
    assert first.exit_code == 0, first.output
    assert "students created: 2" in first.output and "classes created: 7/1班, 7/2班" in first.output
    second = run("roster", "import", str(tmp / "good.csv"), "--school", "NO1")
    assert second.exit_code == 0 and "students unchanged: 2" in second.output
    assert count() == 2


def test_cli_reports_row_errors_and_writes_nothing(cli_env):
    run, count, tmp = cli_env
    (tmp / "bad.csv").write_bytes(BAD.encode("gb18030"))
    result = run("roster", "import", str(tmp / "bad.csv"), "--school", "NO1")
    assert result.exit_code == 1
    assert "row 4, column 出生日期: not a valid date" in result.output
    assert "row 5, column 学号: duplicate student number (first seen on row 2)" in result.output
    assert "row 5, column 年级: not a recognised grade" in result.output
    assert "nothing was written" in result.output
    assert count() == 0


def test_cli_dry_run_and_usage_errors(cli_env):
    run, count, tmp = cli_env
    (tmp / "good.csv").write_text(GOOD, encoding="utf-8")
    dry = run("roster", "import", str(tmp / "good.csv"), "--school", "NO1", "--dry-run")
    assert dry.exit_code == 0 and "dry run: nothing was written" in dry.output
    assert count() == 0
    assert run("roster", "import", str(tmp / "good.csv"), "--school", "NOPE").exit_code == 1
    assert run("roster", "import", str(tmp / "good.csv")).exit_code == 2
    assert run("roster", "import", str(tmp / "missing.csv"), "--school", "NO1").exit_code == 2
