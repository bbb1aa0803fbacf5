"""Migration 0002: on PostgreSQL the audit table refuses UPDATE, DELETE and TRUNCATE, except the
sequencer's sealing update (seq and mac of an unsealed row, nothing else)."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from wellbeing.core import audit

from ..conftest import BACKENDS

pytestmark = pytest.mark.skipif(
    "postgresql" not in BACKENDS, reason="needs WELLBEING_TEST_POSTGRES_URL"
)


@pytest.fixture
def pg(env):  # type: ignore[no-untyped-def]
    if env.backend != "postgresql":
        pytest.skip("PostgreSQL only")
    return env


def _one_sealed_one_not(conn) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    from sqlalchemy.orm import Session

    session = Session(bind=conn, join_transaction_mode="create_savepoint")
    audit.record(session, audit.AuditAction.STUDENT_VIEW, student_id=uuid.uuid4())
    session.flush()
    while audit.seal_batch(session):
        pass
    audit.record(session, audit.AuditAction.STUDENT_VIEW, student_id=uuid.uuid4())
    session.flush()
    sealed = conn.execute(text("SELECT MAX(id) FROM audit_entry WHERE seq IS NOT NULL")).scalar()
    unsealed = conn.execute(text("SELECT MAX(id) FROM audit_entry WHERE seq IS NULL")).scalar()
    return sealed, unsealed


@contextlib.contextmanager
def _rolled_back(env):  # type: ignore[no-untyped-def]
    """A connection whose transaction is always rolled back: the shared test database keeps
    nothing these tests write (a plain ``conn.begin()`` block would commit it)."""
    with env.db.engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            transaction.rollback()


REFUSED = [
    ("UPDATE audit_entry SET actor_username = 'mallory' WHERE id = :sealed", "sealed row"),
    ("UPDATE audit_entry SET seq = seq + 1000000 WHERE id = :sealed", "re-sequencing"),
    ("UPDATE audit_entry SET mac = NULL, seq = NULL WHERE id = :sealed", "unsealing"),
    ("DELETE FROM audit_entry WHERE id = :sealed", "delete sealed"),
    ("DELETE FROM audit_entry WHERE id = :unsealed", "delete unsealed"),
    ("UPDATE audit_entry SET actor_username = 'mallory' WHERE id = :unsealed", "edit unsealed"),
    ("UPDATE audit_entry SET seq = 99999999, mac = '\\x00', outcome = 'denied' WHERE id = :unsealed",
     "sealing plus an edit"),
    ("TRUNCATE audit_entry CASCADE", "truncate"),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "label"), REFUSED, ids=[label for _, label in REFUSED])
def test_changes_are_refused(pg, keyring_installed, sql, label):
    with _rolled_back(pg) as conn:
        sealed, unsealed = _one_sealed_one_not(conn)
        with pytest.raises(DBAPIError, match="append-only"), conn.begin_nested():
            conn.execute(text(sql), {"sealed": sealed, "unsealed": unsealed})


def test_the_sealing_update_is_allowed(pg, keyring_installed):
    with _rolled_back(pg) as conn:
        _sealed, unsealed = _one_sealed_one_not(conn)
        from sqlalchemy.orm import Session

        assert audit.seal_batch(Session(bind=conn, join_transaction_mode="create_savepoint")) == 1
        assert conn.execute(
            text("SELECT seq FROM audit_entry WHERE id = :u"), {"u": unsealed}
        ).scalar()


def test_trigger_is_installed_by_the_migration(pg):
    with pg.db.engine.connect() as conn:
        names = set(
            conn.execute(
                text(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_entry'::regclass AND NOT tgisinternal"
                )
            ).scalars()
        )
    assert names == {"audit_entry_append_only", "audit_entry_no_truncate"}


@pytest.fixture
def keyring_installed(env):  # type: ignore[no-untyped-def]
    from wellbeing.core import crypto

    crypto.install_keyring(env.keyring)
    yield
    crypto.install_keyring(None)
