"""Hostile uploads through HTTP and the CLI: XLSX bombs are refused before parsing, clearly
and with nothing written; request bodies are limited per route (413, translated)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from wellbeing.audit.models import AuditEntry
from wellbeing.auth.services import build_principal, create_api_token
from wellbeing.cli import main
from wellbeing.core import crypto
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.orgs.services import create_school, ensure_district
from wellbeing.screening.models import Response
from wellbeing.students.models import Student

from ..auth.helpers import client_for, make_app
from ..conftest import login
from ..factories import make_school, make_user
from ..screening.helpers import GAD, PHQ, open_campaign, school_with_students
from . import xlsx_bombs

ROSTER_HEADER = ["学号", "姓名", "性别", "出生日期", "年级", "班级"]
SCREENING_HEADER = ["student_number", *PHQ, *GAD]

BOMBS: dict[str, tuple[Callable[[Path, list[str]], Path], str]] = {
    "inflating": (xlsx_bombs.inflating_bomb, "unpacks to more than 512 MiB"),
    "ratio": (
        lambda p, h: xlsx_bombs.inflating_bomb(p, h, mib=60),
        "compressed more than 100 to 1",
    ),
    "wide-row": (xlsx_bombs.wide_row_bomb, "a row of the XLSX file is larger than 1 MiB"),
    "shared-strings": (
        lambda p, h: xlsx_bombs.shared_strings_bomb(p, h, 1_000_001),
        "more than 1000000 different texts",
    ),
    "entities": (xlsx_bombs.entity_bomb, "XML document type declaration"),
}


@pytest.fixture(scope="session")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """Every bomb with a roster header and with a screening header, built once."""
    directory = tmp_path_factory.mktemp("bombs")
    built = {}
    for name, (build, _message) in BOMBS.items():
        for kind, header in (("roster", ROSTER_HEADER), ("screening", SCREENING_HEADER)):
            built[(name, kind)] = build(directory / f"{name}-{kind}.xlsx", header)
    return built


def _timed(call: Callable[[], object]) -> object:
    """The call, untimed: speed is measured in bench/, never asserted here. That the archive
    check (not openpyxl) refused is shown by its own message, which only the check emits."""
    return call()


def test_bombs_are_small_files(bombs) -> None:  # type: ignore[no-untyped-def]
    """They get past the upload limit: the archive check, not the size limit, stops them."""
    assert all(path.stat().st_size < 4 * 1024 * 1024 for path in bombs.values())


# --------------------------------------------------------------------------- roster (admin)


def _upload_roster(client, school, path: Path):  # type: ignore[no-untyped-def]
    data = {"school": str(school.id), "file": (io.BytesIO(path.read_bytes()), "名单.xlsx")}
    return client.post("/students/import", data=data, content_type="multipart/form-data")


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_roster_upload_refuses_xlsx_bombs(client, db_session, env, bombs, bomb) -> None:  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    login(client, make_user(db_session, env.settings, Role.ADMIN))
    response = _timed(lambda: _upload_roster(client, school, bombs[(bomb, "roster")]))
    assert response.status_code == 400
    assert BOMBS[bomb][1] in response.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).where(Student.school_id == school.id)) == 0
    imports = select(func.count()).where(AuditEntry.action == AuditAction.ROSTER_IMPORT)
    assert db_session.scalar(imports) == 0


def test_roster_refusal_is_translated(env, db_session, bombs) -> None:  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    browser = client_for(make_app(env, locale="zh_CN"))
    admin = make_user(db_session, env.settings, Role.ADMIN)
    admin.locale = "zh_CN"
    db_session.flush()
    login(browser, admin)
    html = _upload_roster(browser, school, bombs[("inflating", "roster")]).get_data(as_text=True)
    assert "XLSX 文件解压后超过 512 MiB" in html and "unpacks to" not in html


def test_a_harmless_xlsx_roster_still_imports(client, db_session, env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    login(client, make_user(db_session, env.settings, Role.ADMIN))
    rows = [ROSTER_HEADER, ["K1", "张小明", "男", "2012-03-05", "7", "1班"]]
    response = _upload_roster(client, school, xlsx_bombs.table_xlsx(tmp_path / "ok.xlsx", rows))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).where(Student.school_id == school.id)) == 1


# --------------------------------------------------------------------------- screening (psych teacher)


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_screening_upload_refuses_xlsx_bombs(client, db_session, env, bombs, bomb) -> None:  # type: ignore[no-untyped-def]
    school, _klass, _students = school_with_students(db_session, 2)
    campaign = open_campaign(db_session, [school])
    login(client, make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school))
    path = bombs[(bomb, "screening")]
    response = _timed(
        lambda: client.post(
            f"/screening/campaigns/{campaign.id}/import",
            data={"file": (io.BytesIO(path.read_bytes()), "results.xlsx")},
            content_type="multipart/form-data",
        )
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "The file was not imported" in html and BOMBS[bomb][1] in html
    assert db_session.scalar(select(func.count()).select_from(Response)) == 0


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize("bomb", ["inflating", "shared-strings", "entities"])
def test_cli_imports_refuse_xlsx_bombs(fresh_env, bombs, bomb) -> None:  # type: ignore[no-untyped-def]
    with fresh_env.db.session() as session:
        ensure_district(session)
        create_school(session, None, "NO1", "第一中学")
        school, _klass, _students = school_with_students(session, 2)
        campaign_id = open_campaign(session, [school]).id
    env_vars = {
        "WELLBEING_DATABASE_URL": fresh_env.settings.database_url,
        "WELLBEING_KEY_FILE": str(fresh_env.key_file),
    }
    runner = CliRunner()
    commands = [
        ["roster", "import", str(bombs[(bomb, "roster")]), "--school", "NO1"],
        ["screening", "import", str(bombs[(bomb, "screening")]), "--campaign", str(campaign_id)],
    ]
    for args in commands:
        result = _timed(lambda args=args: runner.invoke(main, args, env=env_vars))
        crypto.install_keyring(fresh_env.keyring)  # the command uninstalls its keyring
        assert result.exit_code == 1, result.output
        assert BOMBS[bomb][1] in result.output
    with fresh_env.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 0
        school_ids = select(Student.school_id).distinct()
        assert set(session.scalars(school_ids)) == {school.id}  # only the fixture's students


# --------------------------------------------------------------------------- request size


def test_ordinary_routes_refuse_large_bodies_with_a_translated_page(env, db_session) -> None:  # type: ignore[no-untyped-def]
    browser = client_for(make_app(env, locale="zh_CN"))
    big = {"username": "a", "password": "x" * (600 * 1024)}
    response = browser.post("/login", data=big)
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert response.mimetype == "text/html" and "请求过大" in html and "512 KiB" in html
    assert browser.post("/login", data={"username": "a", "password": "b"}).status_code != 413


def test_upload_routes_take_files_up_to_the_configured_limit(env, db_session) -> None:  # type: ignore[no-untyped-def]
    app = make_app(env, max_upload_mb=2)
    browser = client_for(app)
    school = make_school(db_session)
    login(browser, make_user(db_session, env.settings, Role.ADMIN))
    header = "学号,姓名,性别,出生日期,年级,班级\n"
    rows = "".join(f"K{i},张小明,男,2012-03-05,7,1班\n" for i in range(30_000))  # ~1 MiB
    assert 600 * 1024 < len((header + rows).encode("gb18030")) < 2 * 1024 * 1024

    def post(text: str):  # type: ignore[no-untyped-def]
        data = {"school": str(school.id), "dry_run": "y",
                "file": (io.BytesIO(text.encode("gb18030")), "名单.csv")}  # fmt: skip
        return browser.post("/students/import", data=data, content_type="multipart/form-data")

    assert post(header + rows).status_code == 200  # above the ordinary limit: an upload
    too_big = post(header + rows * 3)
    assert too_big.status_code == 413
    assert "at most 2 MiB can be uploaded" in too_big.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).where(Student.school_id == school.id)) == 0


def test_api_intake_refuses_large_bodies_with_json(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    school, _k, _students = school_with_students(db_session, 1)
    campaign = open_campaign(db_session, [school])
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    token = create_api_token(db_session, build_principal(db_session, teacher), teacher,
                             name="survey", scopes=["screening:intake"], days=30)  # fmt: skip
    db_session.flush()
    body = json.dumps({"responses": [], "padding": "x" * (5 * 1024 * 1024)})
    response = client.post(
        f"/api/v1/campaigns/{campaign.id}/responses", data=body, csrf=False,
        content_type="application/json", headers={"Authorization": f"Bearer {token.token}"},
    )  # fmt: skip
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    assert "4194304 bytes" in response.get_json()["error"]["message"]
    small = client.post(
        f"/api/v1/campaigns/{campaign.id}/responses", json={"responses": []}, csrf=False,
        headers={"Authorization": f"Bearer {token.token}"},
    )  # fmt: skip
    assert small.status_code != 413
