"""The fast verification path (issue 17 item 3): on PostgreSQL the chain is streamed by COPY
with the server writing most of the canonical bytes; a row read the slow way in the middle of
the walk ends the stream and a new one continues after it; the pre-keyed MAC equals HMAC."""

from __future__ import annotations

import datetime as dt
import hmac
import os
import uuid

import pytest
from sqlalchemy import insert, text

from wellbeing.core import audit, audit_verify

from ..conftest import BACKENDS
from .tamper import write_entries

pytestmark = pytest.mark.slow

NASTY = [
    "back\\slash", 'quote " and \\" escaped', "tab\there", "new\nline\r\n", "unit\x1fsep",
    "record\x1esep", "bell\x07 and \x01", "中文，全角", "emoji 🙂", "\\N", "\\x00ff", "",
]  # fmt: skip


def test_the_prekeyed_mac_is_hmac_sha256():
    for key in (os.urandom(32), os.urandom(64), os.urandom(65), b"k"):
        mac = audit_verify._Mac(key)
        previous = os.urandom(32)
        for payload in (b"", b"x" * 1000, "中文".encode()):
            assert mac.next(previous, payload) == hmac.digest(key, previous + payload, "sha256")
    assert audit_verify._Mac(b"k").next(b"p", None) is None


def _write_nasty(env) -> int:  # type: ignore[no-untyped-def]
    """Entries whose text columns and JSON hold every character COPY or JSON escapes."""
    rows = []
    for n, value in enumerate(NASTY):
        rows.append({
            "occurred_at": dt.datetime(2026, 1, 2, 3, 4, 5, n, tzinfo=dt.UTC),
            "actor_user_id": uuid.uuid4(), "actor_username": value, "actor_role": "psych_teacher",
            "actor_scope": None, "session_hash": value[::-1][:16], "ip": None, "user_agent": value * 2,
            "request_id": f"r{n}", "action": "case:student:view", "object_type": "student",
            "object_id": value, "student_id": None if n % 2 else uuid.uuid4(), "school_id": None,
            "fields": [value, "name"], "detail": {"v": value, "n": n, "x": [1.5, None, True]},
            "purpose": value or None, "outcome": "allowed", "break_glass_id": None, "seq": None,
        })  # fmt: skip
    with env.db.engine.begin() as conn:
        conn.execute(insert(audit.ENTRY_TABLE), rows)
    with env.db.session() as session:
        write_entries(session, 30)
    audit.seal_pending(env.db)
    with env.db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_entry")).scalar() or 0)


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_every_escaped_character_verifies_on_the_fast_path(fresh_env, monkeypatch):
    total = _write_nasty(fresh_env)
    slow: list[int] = []
    reference = audit_verify._slow_canonical

    def counted(session, entry_id, seq):  # type: ignore[no-untyped-def]
        slow.append(seq)
        return reference(session, entry_id, seq)

    monkeypatch.setattr(audit_verify, "_slow_canonical", counted)
    with fresh_env.db.session() as session:
        result = audit_verify.verify_chain(session)
    assert result.ok, result.message
    assert result.checked == total and result.to_seq == total
    assert slow == []  # no row needed the reference way: the fast bytes were exact


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_a_row_read_the_slow_way_mid_walk_continues_the_walk(fresh_env, monkeypatch):
    """The fast bytes of two rows are made wrong: each is read the reference way (on
    PostgreSQL this cancels the COPY inside a savepoint), found genuine, and the walk goes on
    after it to the end; then a real edit after them is still found."""
    total = _write_nasty(fresh_env)
    fast = audit_verify._Canonical.__call__

    def wrong_for_some(self, row, seq):  # type: ignore[no-untyped-def]
        return b"not the sealed bytes" if seq in (5, 20) else fast(self, row, seq)

    monkeypatch.setattr(audit_verify._Canonical, "__call__", wrong_for_some)
    with fresh_env.db.session() as session:
        result = audit_verify.verify_chain(session)
        assert result.ok, result.message
        assert result.checked == total
        session.execute(text("SELECT 1"))  # the transaction is still usable
    with fresh_env.db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(text("UPDATE audit_entry SET actor_username = 'mallory' WHERE seq = 31"))
    with fresh_env.db.session() as session:
        broken = audit_verify.verify_chain(session)
    assert not broken.ok and broken.first_bad_seq == 31
