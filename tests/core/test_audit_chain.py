"""The HMAC chain: sealing, verification and every kind of tampering (property-based)."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from wellbeing.core import audit, audit_verify, crypto

from ..audit import tamper
from ..audit.tamper import max_seq, seal_all, write_entries


@contextmanager
def chain_session(env) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    """A session in a transaction that is rolled back, so each example starts from the same
    chain."""
    conn = env.db.engine.connect()
    trans = conn.begin()
    crypto.install_keyring(env.keyring)
    session = Session(bind=conn, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        trans.rollback()
        conn.close()
        crypto.install_keyring(None)


def test_entries_are_written_unsealed_and_sealed_in_insertion_order(env):
    with chain_session(env) as session:
        seal_all(session)
        before = max_seq(session)
        write_entries(session, 5)
        pending = (
            session.execute(text("SELECT id FROM audit_entry WHERE seq IS NULL ORDER BY id"))
            .scalars()
            .all()
        )
        assert len(pending) == 5  # record() never touches the chain head
        assert audit.seal_batch(session) == 5
        rows = session.execute(
            text("SELECT id, seq FROM audit_entry WHERE seq > :b ORDER BY seq"), {"b": before}
        ).all()
        assert [r.id for r in rows] == pending
        assert [r.seq for r in rows] == list(range(before + 1, before + 6))
        result = audit_verify.verify_chain(session)
        assert result.ok and result.checked == before + 5 and result.unsealed == 0


def test_unsealed_entries_are_counted_not_verified(env):
    with chain_session(env) as session:
        write_entries(session, 3)
        seal_all(session)
        write_entries(session, 2)
        result = audit_verify.verify_chain(session)
        assert result.ok
        assert result.unsealed == 2


def test_mac_covers_every_recorded_field():
    entry = audit.AuditEntry(
        occurred_at=audit.utcnow(), action="case:student:view", fields=["name"], detail={"a": 1},
        outcome="allowed", student_id=uuid.uuid4(),
    )  # fmt: skip
    base = audit.canonical(entry, 7)
    assert audit.canonical(entry, 8) != base  # the position is covered
    for name in audit._CHAINED_FIELDS:
        changed = audit.AuditEntry(**{n: getattr(entry, n) for n in audit._CHAINED_FIELDS})
        value = getattr(entry, name)
        if name == "occurred_at":
            new = value.replace(microsecond=(value.microsecond + 1) % 1000000)
        elif name in {"actor_user_id", "student_id", "school_id", "break_glass_id"}:
            new = uuid.uuid4()
        elif name == "fields":
            new = ["other"]
        elif name == "detail":
            new = {"a": 2}
        else:
            new = f"{value}x"
        setattr(changed, name, new)
        assert audit.canonical(changed, 7) != base, name


OPS = ("edit", "delete", "insert", "reorder", "truncate")
COLUMNS = ("actor_username", "action", "outcome", "object_id", "request_id", "student_id", "ip")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    count=st.integers(min_value=3, max_value=12),
    op=st.sampled_from(OPS),
    position=st.integers(min_value=0, max_value=10**6),
    column=st.sampled_from(COLUMNS),
)
def test_any_tampering_is_detected_at_the_first_bad_entry(env, count, op, position, column):
    with chain_session(env) as session:
        seal_all(session)
        first = max_seq(session) + 1
        write_entries(session, count)
        seal_all(session)
        last = max_seq(session)
        checkpoint = audit_verify.sign_head(session)
        assert audit_verify.verify_chain(session, checkpoint).ok
        conn = session.connection()
        tamper.bypass_append_only(conn)
        if op == "edit":
            expected = tamper.edit(conn, first + position % count, column)
        elif op == "delete":  # a gap: any entry but the last (that is the truncation case)
            expected = tamper.delete(conn, first + position % (count - 1))
        elif op == "insert":
            expected = tamper.insert(conn, first + 1 + position % (count - 1))
        elif op == "reorder":
            expected = tamper.reorder(conn, first + position % (count - 1))
        else:
            expected = tamper.truncate_tail(conn, last - 1 - position % (count - 1))
        session.expire_all()
        result = audit_verify.verify_chain(session, checkpoint)
        assert not result.ok
        assert result.first_bad_seq == expected, result.message
        assert str(expected) in result.message
        if op == "truncate":
            assert "truncated" in result.message


def test_a_forged_checkpoint_is_refused(env):
    with chain_session(env) as session:
        write_entries(session, 3)
        seal_all(session)
        checkpoint = audit_verify.sign_head(session)
        forged = dataclasses.replace(checkpoint, seq=checkpoint.seq + 5)
        result = audit_verify.verify_chain(session, forged)
        assert not result.ok and "signature" in result.message
        garbage = dataclasses.replace(checkpoint, signature="not base64!")
        assert "signature" in audit_verify.verify_chain(session, garbage).message


def test_a_checkpoint_signed_by_another_key_is_refused(env):
    # Another installation's signing key (Keyring's signing methods only read ``material``).
    stranger = SimpleNamespace(material=crypto.generate_key_material())
    with chain_session(env) as session:
        write_entries(session, 2)
        seal_all(session)
        checkpoint = audit_verify.sign_head(session)
        resigned = dataclasses.replace(
            checkpoint, public_key=crypto.Keyring.public_key_pem(stranger)
        )
        signature = crypto.Keyring.sign(stranger, resigned.payload())  # type: ignore[arg-type]
        resigned.signature = base64.b64encode(signature).decode()
        result = audit_verify.verify_chain(session, resigned)
        assert not result.ok and "another key" in result.message


@pytest.mark.parametrize("column", ["mac", "occurred_at"])
def test_editing_the_mac_or_time_is_detected(env, column):
    with chain_session(env) as session:
        write_entries(session, 4)
        seal_all(session)
        target = max_seq(session) - 2
        conn = session.connection()
        tamper.bypass_append_only(conn)
        if column == "mac":
            conn.execute(
                text("UPDATE audit_entry SET mac = :m WHERE seq = :s"),
                {"m": b"\x01" * 32, "s": target},
            )
        else:
            conn.execute(
                text(
                    "UPDATE audit_entry SET occurred_at = (SELECT occurred_at FROM audit_entry WHERE seq = 1) WHERE seq = :s"
                ),
                {"s": target},
            )
        result = audit_verify.verify_chain(session)
        assert not result.ok and result.first_bad_seq == target
