"""``wellbeing audit checkpoint|verify|seal`` on a real committed database, tampered with in each
way the issue lists; the scheduler jobs; concurrent writers with the sequencer running."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from wellbeing.cli import main
from wellbeing.core import audit, audit_verify, crypto
from wellbeing.core.jobs import JobContext
from wellbeing.db import utcnow

from ..conftest import BACKENDS
from . import tamper
from .tamper import write_entries

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(fresh_env, monkeypatch):  # type: ignore[no-untyped-def]
    """Run ``wellbeing …`` in-process against ``fresh_env``; returns (exit code, output)."""
    settings = fresh_env.settings
    monkeypatch.setenv("WELLBEING_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("WELLBEING_KEY_FILE", str(fresh_env.key_file))
    monkeypatch.setenv("WELLBEING_AUDIT_CHECKPOINT_DIR", settings.audit_checkpoint_dir)
    monkeypatch.setenv("WELLBEING_SECRET_KEY", "y" * 40)

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["audit", *args])
        crypto.install_keyring(fresh_env.keyring)  # the command uninstalls its own at the end
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output

    return run


def _populate(env, count: int = 10) -> None:  # type: ignore[no-untyped-def]
    with env.db.session() as session:
        write_entries(session, count)


def _seqs(env) -> list[int]:  # type: ignore[no-untyped-def]
    with env.db.engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT seq FROM audit_entry WHERE seq IS NOT NULL ORDER BY seq")
            ).scalars()
        )


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_checkpoint_then_verify_intact(fresh_env, cli):
    _populate(fresh_env)
    code, out = cli("checkpoint")
    assert code == 0 and "checkpoint at seq" in out
    files = list(Path(fresh_env.settings.audit_checkpoint_dir).glob("checkpoint-*.json"))
    assert len(files) == 1
    doc = json.loads(files[0].read_text())
    assert doc["seq"] == max(_seqs(fresh_env)) and doc["signature"]
    _populate(fresh_env, 3)  # more entries after the checkpoint: still intact
    code, out = cli("verify")
    assert code == 0, out
    assert "intact" in out and "0 entries not sealed yet" in out


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
@pytest.mark.parametrize("kind", ["edit", "delete", "insert", "reorder", "truncate"])
def test_verify_names_the_first_bad_entry(fresh_env, cli, kind):
    _populate(fresh_env, 12)
    assert cli("checkpoint")[0] == 0
    seqs = _seqs(fresh_env)
    middle, last = seqs[len(seqs) // 2], seqs[-1]
    with tamper.committed(fresh_env.db.engine) as conn:
        if kind == "edit":
            bad = tamper.edit(conn, middle, "actor_username")
        elif kind == "delete":
            bad = tamper.delete(conn, middle)
        elif kind == "insert":
            bad = tamper.insert(conn, middle)
        elif kind == "reorder":
            bad = tamper.reorder(conn, middle)
        else:
            bad = tamper.truncate_tail(conn, last - 3)
    code, out = cli("verify")
    assert code == 3, out
    assert "TAMPERED" in out and f"seq {bad}" in out
    assert "not sealed yet" in out


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_truncation_is_only_visible_against_a_checkpoint(fresh_env, cli):
    _populate(fresh_env, 6)
    assert cli("checkpoint")[0] == 0
    checkpoint = next(Path(fresh_env.settings.audit_checkpoint_dir).glob("*.json"))
    moved = checkpoint.with_name("kept-offsite.json")
    checkpoint.rename(moved)
    keep = max(_seqs(fresh_env)) - 2
    with tamper.committed(fresh_env.db.engine) as conn:
        tamper.truncate_tail(conn, keep)
    assert cli("verify")[0] == 0  # without a checkpoint the shorter chain is self-consistent
    code, out = cli("verify", "--checkpoint", str(moved))
    # The sequencer went on sealing new entries where the deleted ones were: the chain no longer
    # reaches the checkpoint's head.
    assert code == 3 and "differs from the checkpoint" in out


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_forged_checkpoint_signature(fresh_env, cli):
    _populate(fresh_env, 4)
    assert cli("checkpoint")[0] == 0
    path = next(Path(fresh_env.settings.audit_checkpoint_dir).glob("*.json"))
    doc = json.loads(path.read_text())
    doc["seq"] = doc["seq"] - 1  # claim a shorter chain, to hide a truncation
    path.write_text(json.dumps(doc))
    code, out = cli("verify", "--checkpoint", str(path))
    assert code == 3 and "signature is invalid" in out
    path.write_text("{not json")
    assert cli("verify", "--checkpoint", str(path))[0] == 3


def test_unsealed_entries_are_reported(fresh_env, cli):
    _populate(fresh_env, 2)
    assert cli("seal")[0] == 0
    code, out = cli("verify")
    assert code == 0 and "0 entries not sealed yet" in out


def test_jobs_seal_and_checkpoint(fresh_env):
    from wellbeing.audit import jobs

    assert {j.id: j.func for j in jobs.JOBS} == {
        "audit.seal": "wellbeing.audit.jobs:seal",
        "audit.checkpoint": "wellbeing.audit.jobs:checkpoint",
        "audit.break_glass_expiry": "wellbeing.audit.jobs:close_expired_grants",
    }
    _populate(fresh_env, 7)
    now = utcnow()
    ctx = JobContext(fresh_env.db, fresh_env.settings, now)
    assert jobs.seal(ctx) >= 7
    assert jobs.seal(ctx) == 0
    _populate(fresh_env, 2)
    seq = jobs.checkpoint(ctx)
    assert seq == max(_seqs(fresh_env))
    files = sorted(Path(fresh_env.settings.audit_checkpoint_dir).glob("*.json"))
    cp = audit_verify.Checkpoint.load(files[-1])
    assert cp.seq == seq and cp.created == now.isoformat()
    with fresh_env.db.session() as session:
        assert audit_verify.verify_chain(session, cp).ok


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_concurrent_writers_with_the_sequencer_running(fresh_env):
    """Threads record entries in their own transactions while the sequencer seals: every entry
    ends up in the chain exactly once, in a gap-free order that verifies."""
    writers, per_writer = 6, 40
    done = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for i in range(per_writer):
                with fresh_env.db.session() as session:
                    audit.record(session, audit.AuditAction.STUDENT_VIEW, student_id=uuid.uuid4(),
                                 detail={"i": i})  # fmt: skip
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def seal() -> None:
        try:
            while not done.is_set():
                audit.seal_pending(fresh_env.db, batch_size=25)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    sealer = threading.Thread(target=seal)
    sealer.start()
    threads = [threading.Thread(target=write) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    sealer.join()
    assert errors == []
    audit.seal_pending(fresh_env.db)
    with fresh_env.db.session() as session:
        result = audit_verify.verify_chain(session)
        assert result.ok and result.unsealed == 0
        total = session.execute(text("SELECT COUNT(*) FROM audit_entry")).scalar()
    assert _seqs(fresh_env) == list(range(1, total + 1))
    assert total >= writers * per_writer


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="needs WELLBEING_TEST_POSTGRES_URL")
@pytest.mark.parametrize("fresh_env", ["postgresql"], indirect=True)
def test_requests_do_not_wait_for_the_chain_lock(fresh_env):
    """While a sequencer holds the chain lock, other transactions still record and commit; only
    a second sequencer waits."""
    engine = fresh_env.db.engine
    with engine.connect() as holder:
        holder.begin()
        holder.exec_driver_sql("SELECT pg_advisory_xact_lock(727001)")
        with fresh_env.db.session() as session:
            session.execute(text("SET LOCAL lock_timeout = '2s'"))
            audit.record(session, audit.AuditAction.STUDENT_VIEW, student_id=uuid.uuid4())
        from sqlalchemy.exc import OperationalError

        with pytest.raises(OperationalError), fresh_env.db.session() as session:
            session.execute(text("SET LOCAL lock_timeout = '200ms'"))
            audit.seal_batch(session)
        holder.rollback()
    assert audit.seal_pending(fresh_env.db) >= 1
