"""Key material in the database: create on init, load at start-up, rotate, rewrap, status.

Rotation re-encrypts with compare-and-swap updates (``WHERE ciphertext = old``), so a write made
by the app while the batch runs is never overwritten: the app already writes under the new
primary key, and the batch skips what it finds on it. Rerunning a stopped rotation resumes:
values already under the primary key are skipped by their header, without decrypting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, LargeBinary, and_, select, type_coerce, update
from sqlalchemy.orm import Session

from ..core import crypto
from ..core.crypto import KeyMaterial, Keyring, Purpose, StoredKey
from ..core.fields import Encrypted, encrypted_fields
from ..db import Database
from .models import DataKey

ALL_PURPOSES = (*crypto.ENCRYPTION_PURPOSES, Purpose.INDEX)


def stored_keys(session: Session) -> list[StoredKey]:
    rows = session.scalars(select(DataKey).order_by(DataKey.id)).all()
    return [StoredKey(k.id, k.purpose, k.version, k.wrapped, k.state == "primary") for k in rows]


def ensure_data_keys(session: Session, material: KeyMaterial) -> list[str]:
    """Create version 1 of every purpose that has no key yet; returns the purposes created."""
    existing = set(session.scalars(select(DataKey.purpose)).all())
    created = []
    for purpose in ALL_PURPOSES:
        if purpose in existing:
            continue
        session.add(
            DataKey(
                purpose=purpose,
                version=1,
                wrapped=crypto.new_wrapped_data_key(material, purpose, 1),
                master_fingerprint=material.master_fingerprint,
                state="primary",
            )
        )
        created.append(str(purpose))
    session.flush()
    return created


def load_keyring(session: Session, material: KeyMaterial, db: Database | None = None) -> Keyring:
    """Unwrap every data key; raises KeyConfigError on a wrong or missing master key.

    With ``db`` the keyring re-reads the keys when another process rotates them."""
    loader = stored_keys_loader(db) if db is not None else None
    return Keyring(material, stored_keys(session), loader=loader)


def stored_keys_loader(db: Database) -> Callable[[], list[StoredKey]]:
    """Read the data keys on a connection of its own, outside any transaction of the caller
    (a plain DBAPI cursor: no ``BEGIN IMMEDIATE`` on SQLite, so it never waits on a writer)."""
    table = DataKey.__tablename__

    def load() -> list[StoredKey]:
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(
                f"SELECT id, purpose, version, wrapped, state FROM {table} ORDER BY id"  # noqa: S608 (constant table name)
            )
            rows = cursor.fetchall()
            connection.rollback()
        finally:
            connection.close()
        return [StoredKey(r[0], r[1], r[2], bytes(r[3]), r[4] == "primary") for r in rows]

    return load


@dataclass
class KeyStatus:
    purpose: str
    version: int
    key_id: int
    state: str
    values: int


def _iter_ciphertexts(session: Session, purpose: str) -> Iterator[bytes]:
    for model, field in encrypted_fields(purpose):
        column = type_coerce(getattr(model, field.column), LargeBinary)
        stmt = select(column).where(column.is_not(None)).execution_options(yield_per=5000)
        yield from session.scalars(stmt)


def key_status(session: Session) -> list[KeyStatus]:
    counts: Counter[int] = Counter()
    for purpose in crypto.ENCRYPTION_PURPOSES:
        counts.update(
            crypto.ciphertext_key_id(blob) for blob in _iter_ciphertexts(session, purpose)
        )
    keys = session.scalars(select(DataKey).order_by(DataKey.purpose, DataKey.version)).all()
    return [KeyStatus(k.purpose, k.version, k.id, k.state, counts.get(k.id, 0)) for k in keys]


def start_rotation(session: Session, material: KeyMaterial, purpose: str) -> DataKey:
    """Make a new version primary for ``purpose``; the old one stays active for decryption."""
    if purpose not in crypto.ENCRYPTION_PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(crypto.ENCRYPTION_PURPOSES)}")
    current = session.scalars(
        select(DataKey).where(DataKey.purpose == purpose, DataKey.state == "primary")
    ).one()
    current.state = "active"
    new = DataKey(
        purpose=purpose,
        version=current.version + 1,
        wrapped=crypto.new_wrapped_data_key(material, purpose, current.version + 1),
        master_fingerprint=material.master_fingerprint,
        state="primary",
    )
    session.add(new)
    session.flush()
    return new


def count_stale(session: Session, purpose: str, primary_id: int) -> int:
    return sum(
        1
        for blob in _iter_ciphertexts(session, purpose)
        if crypto.ciphertext_key_id(blob) != primary_id
    )


def reencrypt_purpose(
    db: Database,
    purpose: str,
    *,
    batch_size: int = 500,
    on_progress: Callable[[int], None] | None = None,
    max_passes: int = 3,
) -> int:
    """Re-encrypt every value of ``purpose`` not under its primary key, batch by batch.

    Each batch is its own short transaction, so the app keeps serving. A value written under
    the old key by a process that had not yet reloaded its keyring (it does within seconds) is
    picked up by the next pass; whatever is still left stays readable under the old key, which
    is then not retired (``keys status`` shows it). Returns the number of values rewritten.
    """
    keyring = crypto.current_keyring()
    primary_id = keyring.primary_key_id(purpose)
    rewritten = 0
    for number in range(max_passes):
        done = sum(
            _reencrypt_field(
                db, model, field, primary_id, batch_size, on_progress if number == 0 else None
            )
            for model, field in encrypted_fields(purpose)
        )
        rewritten += done
        if done == 0:
            break
    return rewritten


def _reencrypt_field(
    db: Database,
    model: type[Any],
    field: Encrypted,
    primary_id: int,
    batch_size: int,
    on_progress: Callable[[int], None] | None,
) -> int:
    table = model.__table__
    id_col, blob_col = table.c.id, type_coerce(table.c[field.column], LargeBinary)
    rewritten, last_id = 0, None
    while True:
        with db.session() as session:
            stmt = select(id_col, blob_col).where(blob_col.is_not(None))
            if last_id is not None:
                stmt = stmt.where(id_col > last_id)
            rows = session.execute(stmt.order_by(id_col).limit(batch_size)).all()
            if not rows:
                return rewritten
            last_id = rows[-1][0]
            for row_id, blob in rows:
                if crypto.ciphertext_key_id(blob) == primary_id:
                    continue
                # Compare-and-swap: a value the app changed meanwhile is left as the app wrote it.
                # An UPDATE's result is a CursorResult (it has ``rowcount``); the stubs say Result.
                result = cast(
                    "CursorResult[Any]",
                    session.execute(
                        update(table)
                        .where(and_(id_col == row_id, blob_col == blob))
                        .values({field.column: field.reencrypt(row_id, blob)})
                    ),
                )
                rewritten += result.rowcount
            if on_progress:
                on_progress(len(rows))


def total_values(session: Session, purpose: str) -> int:
    return sum(1 for _ in _iter_ciphertexts(session, purpose))


def retire_unused(session: Session) -> list[str]:
    """Retire non-primary keys that protect no value any more."""
    counts = {s.key_id: s.values for s in key_status(session)}
    retired = []
    for key in session.scalars(select(DataKey).where(DataKey.state == "active")):
        if counts.get(key.id, 0) == 0:
            key.retire()
            retired.append(f"{key.purpose} v{key.version}")
    return retired


def rewrap_all(session: Session, old: KeyMaterial, new: KeyMaterial) -> int:
    """Move every data key under a new master key; rows are not touched."""
    keys = session.scalars(select(DataKey)).all()
    for key in keys:
        key.wrapped = crypto.rewrap_data_key(old, new, key.wrapped, key.purpose, key.version)
        key.master_fingerprint = new.master_fingerprint
    session.flush()
    return len(keys)
