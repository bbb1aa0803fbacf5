"""``wellbeing backup restore-drill`` (issue 17 item 1): a pg_dump and the key file, kept apart,
restore into a scratch database whose audit chain verifies and whose fields decrypt; a wrong key
file or a damaged ciphertext fails the drill (exit 3). Needs PostgreSQL and pg_dump."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from wellbeing.cli import main
from wellbeing.core import audit, audit_verify, crypto

from ..conftest import PG_ENV, Env, build_env
from ..factories import chinese_name, make_school, make_student

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get(PG_ENV),
        reason=f"the restore drill needs PostgreSQL: set {PG_ENV} (CI sets it and requires it)",
    ),
]


@pytest.fixture(scope="module")
def pg_env(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One migrated PostgreSQL database with 30 students for the module (the drill only reads
    it; a test that damages a value puts it back)."""
    if shutil.which("pg_dump") is None:
        pytest.fail("pg_dump is not installed (Debian: postgresql-client); PostgreSQL is required")
    environment = build_env("postgresql", tmp_path_factory.mktemp("drill"), "drill")
    crypto.install_keyring(environment.keyring)
    try:
        _seed(environment)
        yield environment
    finally:
        crypto.install_keyring(None)
        environment.db.dispose()


def _seed(env: Env, count: int = 30) -> None:
    rng = random.Random(17)
    with env.db.session() as session:
        school = make_school(session)
        for _ in range(count):
            make_student(session, school, name=chinese_name(rng),
                         guardians=[{"name": chinese_name(rng), "phone": "139"}])  # fmt: skip
    audit.seal_pending(env.db)


def _dump(env: Env, path: Path) -> Path:
    url = make_url(env.settings.database_url)
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    environ = {**os.environ, **({"PGPASSWORD": str(url.password)} if url.password else {})}
    subprocess.run(["pg_dump", "--format=custom", "--file", str(path), uri], env=environ,
                   check=True, capture_output=True)  # fmt: skip
    return path


def _drill(env: Env, dump: Path, *extra: str):  # type: ignore[no-untyped-def]
    environ = {"WELLBEING_DATABASE_URL": env.settings.database_url,
               "WELLBEING_KEY_FILE": str(env.key_file)}  # fmt: skip
    return CliRunner().invoke(main, ["backup", "restore-drill", str(dump), *extra], env=environ)


def _drill_databases(env: Env) -> list[str]:
    engine = create_engine(env.settings.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.scalars(text(
                "SELECT datname FROM pg_database WHERE datname LIKE 'wellbeing_drill_%'"
            )))  # fmt: skip
    finally:
        engine.dispose()


def test_a_dump_and_its_key_file_pass_the_drill(pg_env: Env, tmp_path: Path) -> None:
    before = set(_drill_databases(pg_env))
    result = _drill(pg_env, _dump(pg_env, tmp_path / "wellbeing.dump"), "--sample", "0")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "ok   restore" in out and "ok   keys" in out
    assert "ok   audit verify" in out and " 0 sealed entries" not in out
    # 30 names, 30 guardians' lists... every value of every encrypted column decrypted.
    assert "ok   decrypt" in out and "PASS" in out
    assert set(_drill_databases(pg_env)) == before  # the scratch database is gone


def test_a_dump_older_than_the_checkpoint_fails(pg_env: Env, tmp_path: Path) -> None:
    """The checkpoint written before the dump is reached; one written after more activity is
    not: the copy lacks the end of the trail (a truncated tail)."""
    before = audit_verify.write_checkpoint(pg_env.db, tmp_path / "cp-before")
    dump = _dump(pg_env, tmp_path / "b.dump")
    _seed(pg_env, count=2)  # more entries after the dump
    after = audit_verify.write_checkpoint(pg_env.db, tmp_path / "cp-after")
    assert after.seq > before.seq
    good = _drill(pg_env, dump, "--checkpoint", str(_only(tmp_path / "cp-before")))
    assert good.exit_code == 0 and f"against checkpoint seq {before.seq}" in good.output, (
        good.output
    )
    late = _drill(pg_env, dump, "--checkpoint", str(_only(tmp_path / "cp-after")))
    assert late.exit_code == 3 and "truncated tail" in late.output, late.output


def _only(directory: Path) -> Path:
    (path,) = directory.glob("*.json")
    return path


def test_another_key_file_fails_the_drill(pg_env: Env, tmp_path: Path) -> None:
    other = tmp_path / "other-key.json"
    crypto.write_key_file(other, crypto.generate_key_material())
    result = _drill(pg_env, _dump(pg_env, tmp_path / "b.dump"), "--key-file", str(other))
    assert result.exit_code == 3, result.output
    assert "FAIL keys" in result.output and "PASS" not in result.output


def test_a_damaged_value_fails_the_drill(pg_env: Env, tmp_path: Path) -> None:
    move = text("UPDATE student SET name_ct = :blob WHERE id = :id")
    with pg_env.db.engine.begin() as conn:  # a name moved to another row: AES-GCM refuses it
        rows = conn.execute(text("SELECT id, name_ct FROM student ORDER BY id LIMIT 2")).all()
        conn.execute(move, {"blob": rows[0].name_ct, "id": rows[1].id})
    try:
        dump = _dump(pg_env, tmp_path / "b.dump")
    finally:
        with pg_env.db.engine.begin() as conn:
            conn.execute(move, {"blob": rows[1].name_ct, "id": rows[1].id})
    result = _drill(pg_env, dump, "--sample", "0")
    assert result.exit_code == 3, result.output
    assert "FAIL decrypt" in result.output and "student.name" in result.output


def test_a_dump_that_does_not_restore_fails(pg_env: Env, tmp_path: Path) -> None:
    broken = tmp_path / "broken.dump"
    broken.write_bytes(b"PGDMP" + b"\0" * 64)
    before = set(_drill_databases(pg_env))
    result = _drill(pg_env, broken)
    assert result.exit_code == 3, result.output
    assert "FAIL restore" in result.output
    assert set(_drill_databases(pg_env)) == before
