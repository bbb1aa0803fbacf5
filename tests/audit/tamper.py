"""Helpers for the audit tests: write entries, tamper with the table behind the app's back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from wellbeing.core import audit
from wellbeing.core.audit import Actor, AuditAction


def write_entries(session: Session, count: int, *, student_id: uuid.UUID | None = None) -> None:
    actor = Actor(user_id=uuid.uuid4(), username="tester", role="psych_teacher", request_id="r1")
    for i in range(count):
        audit.record(
            session, AuditAction.STUDENT_VIEW, object_type="student", object_id=i,
            student_id=student_id or uuid.uuid4(), fields=["name"], detail={"n": i}, actor=actor,
        )  # fmt: skip
    session.flush()


def seal_all(session: Session) -> None:
    while audit.seal_batch(session) > 0:
        pass


def max_seq(session: Session) -> int:
    return session.execute(text("SELECT MAX(seq) FROM audit_entry")).scalar() or 0


def bypass_append_only(conn: Connection) -> None:
    """What an attacker with the table owner's rights does on PostgreSQL: switch triggers off
    for this transaction (the tests run as a superuser)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")


# Each tamper function changes the sealed chain and returns the seq verify must name first.


def edit(conn: Connection, seq: int, column: str = "actor_username") -> int:
    values = {
        "actor_username": "'mallory'",
        "action": "'case:student:list'",
        "outcome": "'denied'",
        "object_id": "'forged'",
        "request_id": "'r2'",
        "student_id": "NULL",
        "ip": "'10.6.6.6'",
    }
    conn.execute(
        text(f"UPDATE audit_entry SET {column} = {values[column]} WHERE seq = :s"),  # noqa: S608
        {"s": seq},
    )
    return seq


def delete(conn: Connection, seq: int) -> int:
    conn.execute(
        text("DELETE FROM audit_entry WHERE seq = :s"),
        {"s": seq},
    )
    return seq


def _shift(conn: Connection, from_seq: int, by: int) -> None:
    # Two steps, so that the unique index on seq never sees a duplicate.
    conn.execute(text("UPDATE audit_entry SET seq = -seq WHERE seq >= :s"), {"s": from_seq})
    conn.execute(text("UPDATE audit_entry SET seq = -seq + :by WHERE seq < 0"), {"by": by})


def insert(conn: Connection, seq: int) -> int:
    """Insert a forged entry at ``seq`` (a copy of the entry before it), moving the rest up."""
    _shift(conn, seq, 1)
    cols = ", ".join(c for c in _columns(conn) if c not in {"id", "seq"})
    conn.execute(
        text(
            f"INSERT INTO audit_entry (seq, {cols}) SELECT :s, {cols} FROM audit_entry WHERE seq = :p"  # noqa: S608
        ),
        {"s": seq, "p": seq - 1 if seq > 1 else seq + 1},
    )
    return seq


def reorder(conn: Connection, seq: int) -> int:
    """Swap the entries at ``seq`` and ``seq + 1`` (with their MACs)."""
    conn.execute(
        text("UPDATE audit_entry SET seq = -1 WHERE seq = :s"),
        {"s": seq},
    )
    conn.execute(text("UPDATE audit_entry SET seq = :s WHERE seq = :n"), {"s": seq, "n": seq + 1})
    conn.execute(text("UPDATE audit_entry SET seq = :n WHERE seq = -1"), {"n": seq + 1})
    return seq


def truncate_tail(conn: Connection, keep: int) -> int:
    conn.execute(text("DELETE FROM audit_entry WHERE seq > :k"), {"k": keep})
    return keep + 1


def _columns(conn: Connection) -> list[str]:
    from wellbeing.audit.models import AuditEntry

    return [c.name for c in AuditEntry.__table__.columns]


@contextmanager
def committed(engine) -> Iterator[Connection]:  # type: ignore[no-untyped-def]
    """A committed transaction on a real database, with the append-only trigger bypassed."""
    with engine.begin() as conn:
        bypass_append_only(conn)
        yield conn
