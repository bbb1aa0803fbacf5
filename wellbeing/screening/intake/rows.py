"""Driver-level reads and writes for the intake's hot path.

A district import moves 600,000 responses; building a SQLAlchemy statement, a ``uuid.UUID``
and a bind-processed parameter per value costs more than the database does. This module speaks
to the DBAPI connection of the session's transaction directly, in the values each backend stores
(SQLite: ids as 32-character hex text, timestamps as SQLAlchemy's text form; PostgreSQL: native
uuid, COPY for the insert). Rows read here carry those raw "keys"; :meth:`Driver.uuid` turns a
key into a ``uuid.UUID`` only where one is needed (tier decisions, events, API results).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from ...core.rawsql import RawSQL, chunks
from ..models import Response

COLUMNS = (
    "id", "campaign_id", "student_id", "school_id", "class_id", "grade", "instrument", "total_band",
    "bands", "tier", "tier_rule", "critical", "voided", "incomplete", "source", "idempotency_key",
    "entered_by", "created_at", "data_ct",
)  # fmt: skip
_STUDENT_COLUMNS = "id, school_id, class_id, grade, status"
_RESPONSE_COLUMNS = "id, student_id, instrument, data_ct, idempotency_key"
_TABLE = Response.__tablename__


class Driver(RawSQL):
    """The DBAPI side of one session's transaction, for the intake (SQLite or PostgreSQL)."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.sqlite = self.dialect.name == "sqlite"  # read per value on the hot path

    # ------------------------------------------------------------------ keys

    def key(self, value: uuid.UUID) -> Any:
        """A ``uuid.UUID`` as this backend stores it."""
        return value.hex if self.sqlite else value

    def uuid(self, key: Any) -> uuid.UUID:
        return key if isinstance(key, uuid.UUID) else uuid.UUID(key)

    def new_ids(self, count: int) -> list[tuple[Any, str]]:
        return new_ids(count, hex_keys=self.sqlite)

    def timestamp(self, value: dt.datetime) -> Any:
        """``created_at`` as the column type stores it (its own bind processor)."""
        return self.processor(Response.__table__.c.created_at)(value)

    # ------------------------------------------------------------------ reads

    def _select(
        self, sql: str, column: str, values: Sequence[Any], head: tuple[Any, ...] = ()
    ) -> Iterator[tuple[Any, ...]]:
        for part in chunks(values):
            where, params = self.in_filter(column, part)
            yield from self.run(sql + where, head + params)

    def students_by_number(self, digests: Sequence[bytes]) -> Iterable[tuple[Any, ...]]:
        """``(id, school_id, class_id, grade, status, student_number_bidx)`` per match; the
        unique index leads with the blind index, so this is one index probe per digest."""
        sql = f"SELECT {_STUDENT_COLUMNS}, student_number_bidx FROM student WHERE "  # noqa: S608
        return self._select(sql, "student_number_bidx", digests)

    def students_by_id(self, keys: Sequence[Any]) -> Iterable[tuple[Any, ...]]:
        sql = f"SELECT {_STUDENT_COLUMNS} FROM student WHERE "  # noqa: S608
        return self._select(sql, "id", keys)

    def responses(
        self, campaign: Any, student_keys: Sequence[Any], idempotency_keys: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        """Responses of ``campaign`` (a key) already recorded for these students or keys."""
        sql = f"SELECT {_RESPONSE_COLUMNS} FROM {_TABLE} WHERE campaign_id = {self.mark} AND "  # noqa: S608
        rows = list(self._select(sql, "student_id", student_keys, (campaign,)))
        rows += self._select(sql, "idempotency_key", idempotency_keys, (campaign,))
        return rows

    # ------------------------------------------------------------------ the insert

    @contextmanager
    def response_sink(
        self, enabled: bool = True
    ) -> Iterator[Callable[[tuple[Any, ...]], Any] | None]:
        """A function taking rows in :data:`COLUMNS` order (None when not ``enabled``).
        PostgreSQL: each row goes into an open COPY at once, so the server inserts and indexes
        while the caller computes the next (nothing else may use the connection meanwhile);
        SQLite: rows are collected, then inserted in student order (index pages visited in key
        order) with one executemany."""
        if not enabled:
            yield None
            return
        if self.arrays:
            driver = self.conn.connection.driver_connection
            with (
                driver.cursor() as cursor,  # type: ignore[union-attr]  # psycopg's connection here (arrays: PostgreSQL only); typed as any DBAPI driver's
                cursor.copy(f"COPY {_TABLE} ({', '.join(COLUMNS)}) FROM STDIN") as copy,
            ):
                yield copy.write_row
            return
        rows: list[tuple[Any, ...]] = []
        yield rows.append
        if rows:
            rows.sort(key=lambda row: row[2])
            sql = f"INSERT INTO {_TABLE} ({', '.join(COLUMNS)}) VALUES ({self.marks(len(COLUMNS))})"  # noqa: S608
            self.run(sql, rows)

    def flag(self, value: bool) -> Any:
        """A boolean as stored (SQLite: 0/1)."""
        return int(value) if self.sqlite else value


def new_ids(count: int, *, hex_keys: bool) -> list[tuple[str, str]]:
    """``count`` fresh version-4 ids as ``(key, canonical text)``, the key being the 32-digit
    hex (``hex_keys``, SQLite's stored form) or the canonical text: one system call and string
    slicing, not a ``uuid.UUID`` per row. The canonical text is what encrypted fields bind into
    their associated data (``str(uuid)``)."""
    raw = os.urandom(16 * count).hex()
    out: list[tuple[str, str]] = []
    variant = "89ab"
    for start in range(0, 32 * count, 32):
        h = raw[start : start + 32]
        h = f"{h[:12]}4{h[13:16]}{variant[int(h[16], 16) & 3]}{h[17:]}"
        text = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        out.append((h if hex_keys else text, text))
    return out


__all__ = ["COLUMNS", "Driver", "new_ids"]
