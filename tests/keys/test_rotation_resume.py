"""A key rotation stopped mid-way resumes (issue 17 item 4): ``keys rotate`` run again continues
the unfinished rotation (no third key version), skips what is already under the new key, and
ends with every value under the new key, decryptable, and the old key retired. Stopped two
ways: an exception after some committed batches, and a real process killed with SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from wellbeing import open_keyring
from wellbeing.cli import main
from wellbeing.core import crypto
from wellbeing.keys import services
from wellbeing.keys.models import DataKey
from wellbeing.students.models import Student

from ..conftest import BACKENDS
from ..factories import chinese_name, make_school, make_student

pytestmark = pytest.mark.slow


class Killed(Exception):
    """Stands for the process dying between two batches."""


def _cli_env(env: Any) -> dict[str, str]:
    return {
        "WELLBEING_DATABASE_URL": env.settings.database_url,
        "WELLBEING_KEY_FILE": str(env.key_file),
        "WELLBEING_SECRET_KEY": "x" * 48,
    }


def _seed(env: Any, count: int) -> dict[Any, tuple[Any, ...]]:
    rng = random.Random(11)
    expected = {}
    with env.db.session() as session:
        school = make_school(session)
        for _ in range(count):
            student = make_student(session, school, name=chinese_name(rng),
                                   national_id=f"1101{rng.randrange(10**12):012d}",
                                   guardians=[{"name": chinese_name(rng), "phone": "139"}])  # fmt: skip
            expected[student.id] = (student.name, student.national_id, student.guardians)
    return expected


def _values_by_version(env: Any, purpose: str) -> dict[int, int]:
    with env.db.session() as session:
        return {r.version: r.values for r in services.key_status(session) if r.purpose == purpose}


def _versions(env: Any, purpose: str) -> dict[int, str]:
    with env.db.session() as session:
        keys = session.scalars(select(DataKey).where(DataKey.purpose == purpose)).all()
        return {k.version: k.state for k in keys}


def _read_all(env: Any) -> dict[Any, tuple[Any, ...]]:
    token = crypto.bind_keyring(open_keyring(env.db, env.settings))
    try:
        with env.db.session() as session:
            return {
                s.id: (s.name, s.national_id, s.guardians) for s in session.scalars(select(Student))
            }
    finally:
        crypto.unbind_keyring(token)


def _assert_finished(env: Any, expected: dict[Any, tuple[Any, ...]], rewritten: int) -> None:
    assert _versions(env, "identity") == {1: "retired", 2: "primary"}  # no v3: it resumed
    counts = _values_by_version(env, "identity")
    assert counts[1] == 0 and counts[2] == rewritten
    assert _read_all(env) == expected  # every value decrypts to what was written


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_a_rotation_interrupted_after_some_batches_resumes_and_finishes(fresh_env, monkeypatch):
    expected = _seed(fresh_env, 30)
    total = _values_by_version(fresh_env, "identity")[1]
    assert total >= 3 * len(expected)
    real = services.reencrypt_purpose
    at_kill: list[int] = []

    def dies_after_three_batches(*args: Any, **kwargs: Any) -> int:
        def on_batch(progress: services.RotationProgress) -> None:
            if progress.batches == 3:
                at_kill.append(progress.rewritten)
                raise Killed

        return real(*args, **{**kwargs, "on_batch": on_batch})

    monkeypatch.setattr("wellbeing.cli.reencrypt_purpose", dies_after_three_batches)
    runner = CliRunner()
    args = ["keys", "rotate", "--purpose", "identity", "--batch-size", "7"]
    first = runner.invoke(main, args, env=_cli_env(fresh_env))
    assert isinstance(first.exception, Killed), first.output
    # Three batches of 7 students were committed before the "kill"; the rest is still under v1.
    done = at_kill[0]
    assert 21 <= done < total
    assert _versions(fresh_env, "identity") == {1: "active", 2: "primary"}
    assert _values_by_version(fresh_env, "identity") == {1: total - done, 2: done}

    monkeypatch.setattr("wellbeing.cli.reencrypt_purpose", real)
    crypto.install_keyring(fresh_env.keyring)
    second = runner.invoke(main, args, env=_cli_env(fresh_env))
    assert second.exit_code == 0, second.output
    assert "identity: resuming the unfinished rotation to v2" in second.output
    # Only what the first run left was rewritten: the values already under v2 were skipped.
    assert f"identity: now v2; {total - done} values re-encrypted" in second.output
    assert "retired: identity v1" in second.output
    _assert_finished(fresh_env, expected, total)


def test_a_rotation_killed_with_sigkill_resumes_and_finishes(fresh_env, tmp_path: Path):
    expected = _seed(fresh_env, 40)
    total = _values_by_version(fresh_env, "identity")[1]
    env = {**os.environ, **_cli_env(fresh_env)}
    wellbeing = [str(Path(sys.executable).with_name("wellbeing"))]  # the installed command
    args = ["keys", "rotate", "--purpose", "identity", "--batch-size", "4"]
    log = (tmp_path / "rotate.log").open("wb")
    proc = subprocess.Popen([*wellbeing, *args, "--pause", "0.2"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline and proc.poll() is None:
            done = _values_by_version(fresh_env, "identity").get(2, 0)
            if done >= 8:  # at least two batches committed
                break
            time.sleep(0.05)
        assert proc.poll() is None, (tmp_path / "rotate.log").read_text()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
    assert proc.returncode == -signal.SIGKILL
    left = _values_by_version(fresh_env, "identity")
    assert 0 < left[2] < total and left[1] + left[2] == total  # killed mid-way, nothing lost
    assert _read_all(fresh_env) == expected  # readable in the half-rotated state too

    again = subprocess.run([*wellbeing, *args], env=env, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "identity: resuming the unfinished rotation to v2" in again.stdout
    assert f"identity: now v2; {left[1]} values re-encrypted" in again.stdout
    _assert_finished(fresh_env, expected, total)


def test_a_rotation_in_progress_is_found_and_a_finished_one_is_not(fresh_env):
    _seed(fresh_env, 3)
    with fresh_env.db.session() as session:
        assert services.rotation_in_progress(session, "identity") is None
        new = services.start_rotation(session, fresh_env.keyring.material, "identity")
        new_id = new.id
    under_v1 = _values_by_version(fresh_env, "identity")[1]
    with fresh_env.db.session() as session:
        found = services.rotation_in_progress(session, "identity")
        assert found is not None and found.id == new_id and found.version == 2
        assert services.rotation_in_progress(session, "clinical") is None
        stale = services.count_stale(session, "identity", new_id)
        assert stale == under_v1 > 0
