"""Fault: the SQLite database's disk is full (issue 17 item 5).

The database is made full with ``PRAGMA max_page_count`` on every connection to it, which
fails a write with SQLITE_FULL exactly as a full disk does (and needs no mount, so it runs
anywhere). A roster import (the CLI) and a form saved on a page (a concern report) then fail
with a clear message -- one line on the command line, a 503 page in the reader's language --
and every table holds what it held before: nothing half-written. With the space back, the
same import succeeds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, event

from wellbeing import create_app
from wellbeing.cli import EXIT_REFUSED, main
from wellbeing.config import sqlite_path
from wellbeing.core.authz import Role

from ..conftest import CsrfClient, Env, login
from ..factories import make_class, make_school, make_student, make_user
from .helpers import cli_env, write_roster
from .test_import_kill import snapshot

pytestmark = pytest.mark.slow

SPARE_PAGES = 40  # room for a few hundred rows: the import runs out of space part way


@contextmanager
def full_disk(env: Env, spare_pages: int) -> Iterator[None]:
    """Every new connection to ``env``'s database may grow it by ``spare_pages`` at most."""
    path = str(sqlite_path(env.settings.database_url))
    with env.db.engine.connect() as conn:
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar() or 0)

    def limit(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if any(row[2] == path for row in cursor.execute("PRAGMA database_list")):
            cursor.execute(f"PRAGMA max_page_count = {pages + spare_pages}")
        cursor.close()

    event.listen(Engine, "connect", limit)
    try:
        yield
    finally:
        event.remove(Engine, "connect", limit)


@pytest.mark.parametrize("fresh_env", ["sqlite"], indirect=True)
def test_roster_import_on_a_full_disk_refuses_cleanly_and_writes_nothing(
    fresh_env: Env, tmp_path: Path
) -> None:
    with fresh_env.db.session() as session:
        make_school(session, code="FUL")
    roster = write_roster(tmp_path / "roster.csv", 3000)
    environ = {k: v for k, v in cli_env(fresh_env).items() if k.startswith("WELLBEING_")}
    args = ["roster", "import", str(roster), "--school", "FUL"]
    before = snapshot(fresh_env)
    with full_disk(fresh_env, SPARE_PAGES):
        refused = CliRunner().invoke(main, args, env=environ)
    print("full disk:", refused.exit_code, refused.output.strip(), repr(refused.exception))
    assert refused.exit_code == EXIT_REFUSED, refused.output
    assert refused.output.strip() == (
        "error: the database has run out of storage space; nothing was written"
    )
    assert snapshot(fresh_env) == before

    again = CliRunner().invoke(main, args, env=environ)
    assert again.exit_code == 0, again.output
    assert snapshot(fresh_env)["student"] == before["student"] + 3000


@pytest.mark.parametrize("fresh_env", ["sqlite"], indirect=True)
def test_form_saved_on_a_full_disk_shows_a_translated_error_and_writes_nothing(
    fresh_env: Env,
) -> None:
    with fresh_env.db.session() as session:
        school = make_school(session)
        teacher = make_user(session, fresh_env.settings, Role.PSYCH_TEACHER, school=school)
        colleague = make_user(session, fresh_env.settings, Role.PSYCH_TEACHER, school=school)
        colleague.locale = "zh_CN"  # reads the app in Chinese
        student = make_student(session, school, make_class(session, school))
    app = create_app(fresh_env.settings)
    app.test_client_class = CsrfClient
    client = app.test_client()
    login(client, teacher)
    chinese_client = app.test_client()
    login(chinese_client, colleague)
    assert client.get("/concerns/new").status_code == 200
    data = {"school_id": str(school.id), "student_number": student.student_number,
            "category": "bullying", "urgency": "soon", "text": "被同学推搡"}  # fmt: skip
    # No free page left and no room to grow: the report's text (4,000 characters, more than a
    # page once encrypted) needs new pages.
    vacuum = sqlite3.connect(
        str(sqlite_path(fresh_env.settings.database_url)), isolation_level=None
    )
    vacuum.execute("VACUUM")
    vacuum.close()
    data["text"] = "被同学推搡" * 800
    before = snapshot(fresh_env)
    with full_disk(fresh_env, 0):
        app.extensions["wellbeing.db"].engine.dispose()  # new connections get the limit
        english = client.post("/concerns/new", data=data)
        chinese = chinese_client.post("/concerns/new", data=data)
    print("full disk:", english.status_code, chinese.status_code)
    assert english.status_code == 503 and english.headers["Retry-After"]
    assert "run out of storage space, so nothing was saved" in english.get_data(as_text=True)
    assert chinese.status_code == 503
    assert "数据库存储空间已满，本次内容未保存。" in chinese.get_data(as_text=True)
    app.extensions["wellbeing.db"].engine.dispose()
    assert snapshot(fresh_env) == before

    saved = client.post("/concerns/new", data=data)  # with space again
    assert saved.status_code == 302
    after = snapshot(fresh_env)
    assert after["concern"] == before["concern"] + 1
