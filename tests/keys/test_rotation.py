"""Key rotation and master-key rewrap (issue 3, point 5 and proof (d))."""

from __future__ import annotations

import random
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from wellbeing import open_keyring
from wellbeing.cli import main
from wellbeing.core import crypto
from wellbeing.keys.services import key_status, load_keyring, reencrypt_purpose, start_rotation
from wellbeing.students.models import Student

from ..conftest import BACKENDS
from ..factories import chinese_name, make_school, make_student

pytestmark = pytest.mark.slow


def _cli_env(env) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "WELLBEING_DATABASE_URL": env.settings.database_url,
        "WELLBEING_KEY_FILE": str(env.key_file),
        "WELLBEING_SECRET_KEY": "x" * 48,
    }


def _seed(env, count: int = 40) -> dict:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    expected = {}
    with env.db.session() as session:
        school = make_school(session)
        for _ in range(count):
            name = chinese_name(rng)
            student = make_student(session, school, name=name, national_id=f"1101{rng.randrange(10**12):012d}",
                                   guardians=[{"name": chinese_name(rng), "phone": "139"}])  # fmt: skip
            expected[student.id] = (name, student.national_id, student.guardians)
    return expected


def _read_all(env, keyring) -> dict:  # type: ignore[no-untyped-def]
    token = crypto.bind_keyring(keyring)
    try:
        with env.db.session() as session:
            return {
                s.id: (s.name, s.national_id, s.guardians) for s in session.scalars(select(Student))
            }
    finally:
        crypto.unbind_keyring(token)


def test_rotate_reencrypts_every_value_and_retires_the_old_key(fresh_env):
    expected = _seed(fresh_env)
    runner = CliRunner()
    result = runner.invoke(main, ["keys", "rotate", "--purpose", "identity", "--batch-size", "7"],
                           env=_cli_env(fresh_env))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "identity: now v2" in result.output
    assert "identity v1" in result.output  # retired
    keyring = open_keyring(fresh_env.db, fresh_env.settings)
    assert _read_all(fresh_env, keyring) == expected
    with fresh_env.db.session() as session:
        rows = {(r.purpose, r.version): r for r in key_status(session)}
    assert rows[("identity", 1)].state == "retired" and rows[("identity", 1)].values == 0
    assert rows[("identity", 2)].state == "primary" and rows[("identity", 2)].values >= 3 * len(
        expected
    )

    status = runner.invoke(main, ["keys", "status"], env=_cli_env(fresh_env))
    assert status.exit_code == 0
    assert "retired" in status.output and "primary" in status.output


def test_rewrap_moves_keys_under_a_new_master_without_touching_rows(fresh_env, tmp_path):
    expected = _seed(fresh_env, 10)
    with fresh_env.db.session() as session:
        before = {s.id: s.name_ct for s in session.scalars(select(Student))}
    new_file = tmp_path / "new-master.json"
    runner = CliRunner()
    assert runner.invoke(main, ["keys", "generate", str(new_file)]).exit_code == 0
    result = runner.invoke(
        main, ["keys", "rewrap", "--new-key-file", str(new_file)], env=_cli_env(fresh_env)
    )
    assert result.exit_code == 0, result.output

    with fresh_env.db.session() as session:
        assert {s.id: s.name_ct for s in session.scalars(select(Student))} == before
    new_keyring = open_keyring(fresh_env.db, fresh_env.settings.__class__(
        **{**fresh_env.settings.__dict__, "key_file": str(new_file)}))  # fmt: skip
    assert _read_all(fresh_env, new_keyring) == expected

    old_env = _cli_env(fresh_env)
    refused = runner.invoke(main, ["keys", "status"], env=old_env)
    assert refused.exit_code == 1
    assert "error:" in refused.output.lower()
    assert len(refused.output.strip().splitlines()) == 1


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_rotation_while_the_app_writes_loses_nothing(fresh_env):
    """Another 'process' (its own keyring, loaded before the rotation) keeps reading and
    writing encrypted values while the rotation runs in small batches."""
    expected = _seed(fresh_env, 60)
    ids = list(expected)
    app_keyring = open_keyring(fresh_env.db, fresh_env.settings)
    app_keyring._refresh_seconds = 0.05  # follow the rotation quickly in this test
    errors: list[BaseException] = []
    written: dict = {}
    stop = threading.Event()

    def app_requests() -> None:
        rng = random.Random(3)
        token = crypto.bind_keyring(app_keyring)
        try:
            while not stop.is_set():
                student_id = rng.choice(ids)
                new_name = chinese_name(rng) + str(rng.randrange(1000))
                with fresh_env.db.session() as session:
                    student = session.get(Student, student_id)
                    assert student.name is not None  # a read under whichever key it carries
                    student.name = new_name
                written[student_id] = new_name
        except BaseException as exc:
            errors.append(exc)
        finally:
            crypto.unbind_keyring(token)

    worker = threading.Thread(target=app_requests)
    worker.start()
    try:
        with fresh_env.db.session() as session:
            start_rotation(session, fresh_env.keyring.material, "identity")
            rotation_keyring = load_keyring(session, fresh_env.keyring.material)
        token = crypto.bind_keyring(rotation_keyring)
        try:
            rewritten = reencrypt_purpose(fresh_env.db, "identity", batch_size=5)
        finally:
            crypto.unbind_keyring(token)
    finally:
        stop.set()
        worker.join(timeout=60)
    assert errors == []
    assert rewritten > 0
    assert written, "the app thread wrote nothing during the rotation"
    final = _read_all(fresh_env, open_keyring(fresh_env.db, fresh_env.settings))
    for student_id, (name, national_id, guardians) in expected.items():
        assert final[student_id][0] == written.get(student_id, name)
        assert final[student_id][1:] == (national_id, guardians)
