"""Streaming verification (issue 17 item 3): the fast canonical bytes equal the reference
ones, both modes (``--full`` and from the last verified checkpoint) detect every kind of
tampering, a forged checkpoint or verification record does not help, memory stays flat."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tracemalloc
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, text

from wellbeing.cli import main
from wellbeing.core import audit, audit_verify, crypto
from wellbeing.core.audit_models import AuditVerification

from ..conftest import BACKENDS
from . import tamper
from .tamper import write_entries

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(fresh_env, monkeypatch):  # type: ignore[no-untyped-def]
    settings_ = fresh_env.settings
    monkeypatch.setenv("WELLBEING_DATABASE_URL", settings_.database_url)
    monkeypatch.setenv("WELLBEING_KEY_FILE", str(fresh_env.key_file))
    monkeypatch.setenv("WELLBEING_AUDIT_CHECKPOINT_DIR", settings_.audit_checkpoint_dir)
    monkeypatch.setenv("WELLBEING_SECRET_KEY", "y" * 40)

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["audit", *args])
        crypto.install_keyring(fresh_env.keyring)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output

    return run


def _populate(env, count: int) -> None:  # type: ignore[no-untyped-def]
    with env.db.session() as session:
        write_entries(session, count)


def _max_seq(env) -> int:  # type: ignore[no-untyped-def]
    with env.db.engine.connect() as conn:
        return int(conn.execute(text("SELECT MAX(seq) FROM audit_entry")).scalar() or 0)


def _last_run(env) -> AuditVerification:  # type: ignore[no-untyped-def]
    with env.db.session() as session:
        row = session.scalars(
            select(AuditVerification).order_by(AuditVerification.created_at.desc()).limit(1)
        ).one()
        session.expunge(row)
        return row


# --------------------------------------------------------------------------- exact bytes

CHARS = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
TEXT = st.one_of(st.none(), st.text(CHARS, max_size=16))
CODE = st.from_regex(r"[A-Za-z0-9_.:/@+=-]{0,20}", fullmatch=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    when=st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2200, 1, 1),
                      timezones=st.just(dt.UTC)),
    strings=st.lists(TEXT, min_size=9, max_size=9),
    uuids=st.lists(st.one_of(st.none(), st.uuids()), min_size=4, max_size=4),
    fields=st.lists(CODE, max_size=4),
    detail=st.dictionaries(CODE, st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                                           CODE, st.lists(st.integers(), max_size=3))),
)  # fmt: skip
def test_fast_canonical_bytes_equal_the_reference(env, when, strings, uuids, fields, detail):
    """Whatever a row holds (unicode, quotes, control characters, NULLs, nested detail), the
    text-column path builds the bytes canonical_values() builds from the typed row."""
    values = dict(zip(("actor_username", "actor_role", "actor_scope", "session_hash", "ip",
                       "user_agent", "request_id", "object_type", "object_id"), strings,
                      strict=True))  # fmt: skip
    values.update(zip(("actor_user_id", "student_id", "school_id", "break_glass_id"), uuids,
                      strict=True))  # fmt: skip
    row = {**values, "occurred_at": when, "action": "case:student:view", "fields": fields,
           "detail": detail, "purpose": None, "outcome": "allowed", "seq": None}  # fmt: skip
    with env.db.engine.connect() as conn, conn.begin() as trans:
        new_id = conn.execute(insert(audit.ENTRY_TABLE).values(**row)).inserted_primary_key[0]
        dialect = conn.dialect.name
        fast = conn.execute(
            select(*audit_verify._text_columns(dialect)).where(audit.ENTRY_TABLE.c.id == new_id)
        ).one()
        typed = conn.execute(
            select(*audit.ENTRY_COLUMNS).where(audit.ENTRY_TABLE.c.id == new_id)
        ).one()
        trans.rollback()
    assert audit_verify._Canonical(dialect)(fast, 41) == audit.canonical_values(typed[3:], 41)


def test_an_unusual_but_equal_value_is_read_the_slow_way(fresh_env):
    """A UUID stored in another spelling of the same value (SQLite) is what the model reads:
    the chain still verifies, as it did before the fast path."""
    if fresh_env.backend != "sqlite":
        pytest.skip("PostgreSQL stores UUIDs natively")
    _populate(fresh_env, 3)
    audit.seal_pending(fresh_env.db)
    seq = _max_seq(fresh_env) - 1
    with tamper.committed(fresh_env.db.engine) as conn:
        raw = conn.execute(text("SELECT actor_user_id FROM audit_entry WHERE seq = :s"),
                           {"s": seq}).scalar()  # fmt: skip
        spelled = str(uuid.UUID(raw)).upper()
        conn.execute(text("UPDATE audit_entry SET actor_user_id = :v WHERE seq = :s"),
                     {"v": spelled, "s": seq})  # fmt: skip
    with fresh_env.db.session() as session:
        assert audit_verify.verify_chain(session).ok


# --------------------------------------------------------------------------- the two modes


def _two_checkpoints(env, cli) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Entries, checkpoint A, a full run, more entries, checkpoint B, more entries: the default
    mode then starts at A (inside the verified range) and walks A+1 … head."""
    _populate(env, 8)
    assert cli("checkpoint")[0] == 0
    first = _max_seq(env)
    code, out = cli("verify", "--full")
    assert code == 0 and "mode full" in out, out
    _populate(env, 6)
    assert cli("checkpoint")[0] == 0
    _populate(env, 6)
    return first, _max_seq(env)


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_default_mode_starts_at_the_verified_checkpoint(fresh_env, cli):
    anchor, _head = _two_checkpoints(fresh_env, cli)
    code, out = cli("verify")
    assert code == 0, out
    assert f"mode checkpoint, from the signed checkpoint at seq {anchor}" in out
    run = _last_run(fresh_env)
    assert run.mode == "checkpoint" and run.from_seq == anchor + 1 and run.ok
    assert run.to_seq == _max_seq(fresh_env)  # (its own entry is sealed later)
    assert run.checked == run.to_seq - anchor and run.seconds is not None


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_the_first_run_walks_everything(fresh_env, cli):
    _populate(fresh_env, 5)
    assert cli("checkpoint")[0] == 0
    code, out = cli("verify")
    assert code == 0 and "no verified checkpoint yet" in out and "seq 1–" in out


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
@pytest.mark.parametrize("kind", ["edit", "delete", "insert", "reorder", "truncate", "anchor"])
@pytest.mark.parametrize("mode", ["default", "full"])
def test_both_modes_detect_tampering_after_the_anchor(fresh_env, cli, kind, mode):
    anchor, head = _two_checkpoints(fresh_env, cli)
    middle = (anchor + head) // 2
    with tamper.committed(fresh_env.db.engine) as conn:
        if kind == "edit":
            bad = tamper.edit(conn, middle, "object_id")
        elif kind == "delete":
            bad = tamper.delete(conn, middle)
        elif kind == "insert":
            bad = tamper.insert(conn, middle)
        elif kind == "reorder":
            bad = tamper.reorder(conn, middle)
        elif kind == "truncate":  # below checkpoint B, whose head is then not reached
            bad = tamper.truncate_tail(conn, anchor + 2) * 0
        else:  # the anchor's own MAC
            conn.execute(text("UPDATE audit_entry SET mac = :m WHERE seq = :s"),
                         {"m": b"\x07" * 32, "s": anchor})  # fmt: skip
            bad = anchor
    code, out = cli("verify", *(["--full"] if mode == "full" else []))
    assert code == 3, out
    assert "TAMPERED" in out and (f"seq {bad}" in out or ("checkpoint" in out and not bad))
    assert f"mode {'full' if mode == 'full' else 'checkpoint'}" in out
    run = _last_run(fresh_env)
    assert not run.ok and run.tag is None


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_an_edit_before_the_anchor_needs_full(fresh_env, cli):
    """The documented limit of the default mode: what an earlier run covered is not walked
    again; --full finds it."""
    anchor, _head = _two_checkpoints(fresh_env, cli)
    with tamper.committed(fresh_env.db.engine) as conn:
        tamper.edit(conn, anchor - 3, "actor_username")
    assert cli("verify")[0] == 0
    code, out = cli("verify", "--full")
    assert code == 3 and f"seq {anchor - 3}" in out


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
@pytest.mark.parametrize("mode", ["default", "full"])
def test_a_forged_checkpoint_is_detected_by_both_modes(fresh_env, cli, mode):
    _two_checkpoints(fresh_env, cli)
    directory = Path(fresh_env.settings.audit_checkpoint_dir)
    for path in sorted(directory.glob("checkpoint-*.json")):
        doc = json.loads(path.read_text())
        doc["head_mac"] = "00" * 32  # another head, same signature
        path.write_text(json.dumps(doc))
    code, out = cli("verify", *(["--full"] if mode == "full" else []))
    assert code == 3 and "signature is invalid" in out


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_a_forged_verification_record_is_ignored(fresh_env, cli):
    """A row added to audit_verification claiming everything was verified does not move the
    default mode's starting point: without a valid tag it walks the whole chain."""
    _populate(fresh_env, 8)
    assert cli("checkpoint")[0] == 0
    head = _max_seq(fresh_env)
    with fresh_env.db.session() as session:
        session.add(AuditVerification(ok=True, checked=head, unsealed=0, message="intact",
                                      mode="full", from_seq=1, to_seq=head, head_mac="ab" * 32,
                                      tag="cd" * 32))  # fmt: skip
    with tamper.committed(fresh_env.db.engine) as conn:
        tamper.edit(conn, 3, "actor_username")
    code, out = cli("verify")
    assert code == 3 and "seq 3" in out and "mode full" in out


# --------------------------------------------------------------------------- memory


def _peak_of_walk(env) -> int:  # type: ignore[no-untyped-def]
    with env.db.session() as session:
        tracemalloc.start()
        result = audit_verify.verify_chain(session, chunk=200)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert result.ok
    return peak


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_peak_memory_does_not_grow_with_the_trail(fresh_env):
    with fresh_env.db.session() as session:
        write_entries(session, 1500)
    audit.seal_pending(fresh_env.db)
    small = _peak_of_walk(fresh_env)
    with fresh_env.db.session() as session:
        write_entries(session, 4500)
    audit.seal_pending(fresh_env.db)
    large = _peak_of_walk(fresh_env)  # four times the entries
    assert large < small * 1.5 + 256 * 1024, (small, large)


def test_verify_result_keeps_its_range():
    result = audit_verify.VerifyResult(True, 10, 0, mode="checkpoint", from_seq=5, to_seq=14,
                                       seconds=0.5)  # fmt: skip
    assert result.rate == 20 and dataclasses.replace(result, seconds=0).rate == 0


def test_the_integrity_panel_shows_the_last_run_and_its_range(client, db_session, env):
    from ..authz import build_world
    from ..conftest import login

    world = build_world(db_session, env.settings)
    login(client, world.users["supervisor"])
    assert client.post("/audit/integrity/verify").status_code == 302
    run = db_session.scalars(
        select(AuditVerification).order_by(AuditVerification.created_at.desc())
    ).first()
    assert run.ok and run.mode == "full" and run.from_seq == 1 and run.tag
    panel = client.get("/audit/integrity").get_data(as_text=True)
    assert 'data-testid="last-verification-range"' in panel
    assert f"sequence 1 to {run.to_seq}" in panel and "The whole chain" in panel
    assert "entries per second" in panel
