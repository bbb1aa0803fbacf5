"""Key material in the database: create on init, load at start-up, rotate, rewrap, status.

Rotation is online: ``start_rotation`` makes a new version primary (the old one stays active
for decryption, and the app's keyrings load the new one on the first value naming it, see
:class:`wellbeing.core.crypto.Keyring`), then ``reencrypt_purpose`` rewrites the values in
batches, each its own short transaction: keyset pagination on the primary key over the rows
whose 5-byte header names an older key (filtered in SQL), and compare-and-swap updates
(``WHERE ciphertext = old``), so a write made by the app meanwhile is never overwritten. A
stopped or killed rotation is resumed by running ``keys rotate`` again
(:func:`rotation_in_progress`): what is already under the primary key is skipped in SQL.
Counting values per key (``keys status``) groups the headers in SQL too.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    LargeBinary,
    and_,
    func,
    or_,
    select,
    text,
    type_coerce,
    update,
)
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


def _count_by_key(session: Session, purpose: str) -> Counter[int]:
    """Values of ``purpose`` per data-key id, counted in SQL by their 5-byte header (GROUP BY
    on the server: nothing but the headers and their counts comes back)."""
    counts: Counter[int] = Counter()
    for model, field in encrypted_fields(purpose):
        column = type_coerce(getattr(model, field.column), LargeBinary)
        header = func.substr(column, 1, crypto.HEADER.size)
        rows = session.execute(
            select(header, func.count()).where(column.is_not(None)).group_by(header)
        )
        for value, count in rows:
            counts[crypto.ciphertext_key_id(bytes(value))] += count
    return counts


def key_status(session: Session) -> list[KeyStatus]:
    counts: Counter[int] = Counter()
    for purpose in crypto.ENCRYPTION_PURPOSES:
        counts.update(_count_by_key(session, purpose))
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


def rotation_in_progress(session: Session, purpose: str) -> DataKey | None:
    """The primary key of ``purpose`` when a rotation to it is unfinished (an older key of the
    purpose is still active, i.e. may still protect values); None when there is none."""
    older = session.scalar(
        select(func.count()).where(DataKey.purpose == purpose, DataKey.state == "active")
    )
    if not older:
        return None
    return session.scalars(
        select(DataKey).where(DataKey.purpose == purpose, DataKey.state == "primary")
    ).one()


def _header(key_id: int) -> bytes:
    return crypto.HEADER.pack(crypto.FORMAT_VERSION, key_id)


def _stale(blob_col: Any, primary_id: int) -> Any:
    """SQL: the value is set and its header names another key than ``primary_id`` (the first
    five bytes, compared as bytes on both backends: no value is read into Python for this)."""
    return and_(
        blob_col.is_not(None), func.substr(blob_col, 1, crypto.HEADER.size) != _header(primary_id)
    )


def count_stale(session: Session, purpose: str, primary_id: int) -> int:
    """Values of ``purpose`` not under ``primary_id`` (counted in SQL)."""
    total = 0
    for model, field in encrypted_fields(purpose):
        column = type_coerce(getattr(model, field.column), LargeBinary)
        total += session.scalar(select(func.count()).where(_stale(column, primary_id))) or 0
    return total


@dataclass
class RotationProgress:
    """Handed to ``on_batch`` after each committed batch."""

    batches: int = 0
    scanned: int = 0  # stale values read
    rewritten: int = 0  # values now under the primary key
    skipped: int = 0  # changed by the app meanwhile (left as the app wrote them)


def reencrypt_purpose(
    db: Database,
    purpose: str,
    *,
    batch_size: int = 1000,
    on_progress: Callable[[int], None] | None = None,
    on_batch: Callable[[RotationProgress], None] | None = None,
    max_passes: int = 3,
    pause: float = 0.0,
) -> int:
    """Re-encrypt every value of ``purpose`` not under its primary key, batch by batch.

    Each batch is its own short transaction: keyset pagination on the primary key over the rows
    with a value whose header names an older key, and one compare-and-swap ``UPDATE`` of all
    the row's values of the purpose (one new row version, not one per column), sent for the
    whole batch at once. So the app keeps serving: no table lock, row locks for milliseconds.
    A kill loses at most the open batch; a re-run skips what is already under the primary key,
    in SQL. ``pause`` seconds between batches leave the database and CPU to the app. A value
    written under the old key by a process that had not yet reloaded its keyring (it does
    within seconds), or changed by the app during its batch, is picked up by the next pass;
    whatever is still left stays readable under the old key, which is then not retired (``keys
    status`` shows it). Returns the number of values rewritten.
    """
    keyring = crypto.current_keyring()
    primary_id = keyring.primary_key_id(purpose)
    by_model: dict[type, list[Encrypted]] = {}
    for model, field in encrypted_fields(purpose):
        by_model.setdefault(model, []).append(field)
    progress = RotationProgress()
    for number in range(max_passes):
        before = progress.rewritten + progress.skipped
        for model, fields in by_model.items():
            _reencrypt_table(
                db, model, fields, primary_id, batch_size, progress,
                on_progress if number == 0 else None, on_batch, pause,
            )  # fmt: skip
        if progress.rewritten + progress.skipped == before:
            break
    return progress.rewritten


def _reencrypt_table(
    db: Database,
    model: type[Any],
    fields: list[Encrypted],
    primary_id: int,
    batch_size: int,
    progress: RotationProgress,
    on_progress: Callable[[int], None] | None,
    on_batch: Callable[[RotationProgress], None] | None,
    pause: float,
) -> None:
    table = model.__table__
    id_col = table.c.id
    columns = [type_coerce(table.c[f.column], LargeBinary) for f in fields]
    header = _header(primary_id)
    keyring = crypto.current_keyring()
    last_id = None
    while True:
        with db.session() as session:
            stmt = select(id_col, *columns).where(or_(*(_stale(c, primary_id) for c in columns)))
            if last_id is not None:
                stmt = stmt.where(id_col > last_id)
            rows = session.execute(stmt.order_by(id_col).limit(batch_size)).all()
            if not rows:
                return
            last_id = rows[-1][0]
            batch: list[tuple[Any, list[bytes | None], list[bytes | None], int]] = []
            for row_id, *olds in rows:
                news, stale = list(olds), 0
                for n, (field, blob) in enumerate(zip(fields, olds, strict=True)):
                    if blob is not None and blob[: len(header)] != header:
                        context = field.context(row_id)
                        plain = keyring.decrypt(blob, context)
                        news[n] = keyring.encrypt(plain, field.purpose, context)
                        stale += 1
                batch.append((row_id, olds, news, stale))
            swapped = _swap(session, table, [f.column for f in fields], batch)
        values = sum(b[3] for b in batch)
        done = sum(b[3] for b in batch if b[0] in swapped)
        progress.batches += 1
        progress.scanned += values
        progress.rewritten += done
        progress.skipped += values - done
        if on_progress:
            on_progress(values)
        if on_batch:
            on_batch(progress)
        if pause:
            time.sleep(pause)


def _swap(
    session: Session,
    table: Any,
    names: list[str],
    batch: list[tuple[Any, list[bytes | None], list[bytes | None], int]],
) -> set[Any]:
    """Compare-and-swap the values of a batch (a row the app changed meanwhile is left as the
    app wrote it); returns the ids of the rows changed. PostgreSQL: one statement over arrays
    (one round trip for the batch); SQLite: a statement per row (in process: no round trip)."""
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        # Each array travels as one text (hex values joined by commas, '' for NULL) that the
        # server splits: psycopg's per-element escaping of a bytea[] cost a fifth of the batch.
        id_type = table.c.id.type.compile(dialect=dialect)
        arrays = [f"CAST(string_to_array(:ids, ',') AS {id_type}[])"]
        sets, checks = [], []
        values = {"ids": ",".join(str(b[0]) for b in batch)}
        for n, name in enumerate(names):
            arrays += [f"string_to_array(:o{n}, ',', '')", f"string_to_array(:n{n}, ',', '')"]
            sets.append(f"{name} = decode(v.n{n}, 'hex')")
            checks.append(f"{table.name}.{name} IS NOT DISTINCT FROM decode(v.o{n}, 'hex')")
            values[f"o{n}"] = _hex_list(b[1][n] for b in batch)
            values[f"n{n}"] = _hex_list(b[2][n] for b in batch)
        columns = ", ".join(["id"] + [f"o{n}, n{n}" for n in range(len(names))])
        statement = text(
            f"UPDATE {table.name} SET {', '.join(sets)} FROM unnest({', '.join(arrays)})"  # noqa: S608 (names from the models)
            f" AS v({columns}) WHERE {table.name}.id = v.id AND {' AND '.join(checks)}"
            f" RETURNING v.id"
        )
        return set(session.scalars(statement, values))
    swapped = set()
    blobs = [type_coerce(table.c[name], LargeBinary) for name in names]
    for row_id, olds, news, _stale in batch:
        conditions = [c.is_not_distinct_from(old) for c, old in zip(blobs, olds, strict=True)]
        result = session.execute(
            update(table)
            .where(table.c.id == row_id, *conditions)
            .values(dict(zip(names, news, strict=True)))
        )
        # An UPDATE's result is a CursorResult (it has ``rowcount``); the stubs say Result.
        if cast("CursorResult[Any]", result).rowcount:
            swapped.add(row_id)
    return swapped


def _hex_list(blobs: Iterable[bytes | None]) -> str:
    return ",".join("" if blob is None else blob.hex() for blob in blobs)


def total_values(session: Session, purpose: str) -> int:
    return sum(_count_by_key(session, purpose).values())


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
