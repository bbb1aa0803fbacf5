"""Driver-level SQL for bulk paths (imports and what they set off).

Values go through the column types' own bind processors, so they are stored exactly as the ORM
stores them, but without the ORM's or Core's per-row statement machinery: one executemany on
SQLite, COPY (psycopg) on PostgreSQL. Several times faster for tens of thousands of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

BIG_CACHE_KIB = 131072
IN_CHUNK = 5000  # values per IN (...) list: well under SQLite's 32,766 variables
T = TypeVar("T")


def chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """``values`` in slices of ``size``, for IN lookups and batched writes."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


class RawSQL:
    """The DBAPI side of a session's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect
        self.mark = "?" if self.dialect.paramstyle == "qmark" else "%s"

    @property
    def conn(self) -> Connection:
        """Asked of the session each time: a savepoint begun since (``begin_nested``) is only
        emitted when the session hands out its connection."""
        return self.session.connection()

    def processor(self, column: Any) -> Callable[[Any], Any]:
        proc = column.type._cached_bind_processor(self.dialect)
        return proc if proc is not None else (lambda v: v)

    def marks(self, n: int) -> str:
        return ",".join([self.mark] * n)

    @property
    def arrays(self) -> bool:
        """PostgreSQL: pass a whole id list as one array parameter (``= ANY(%s)``)."""
        return self.dialect.name == "postgresql"

    def in_filter(self, column: str, values: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
        """``column IN (...)``, or ``= ANY(array)`` on PostgreSQL, with its parameters."""
        if self.arrays:
            return f"{column} = ANY({self.mark})", (list(values),)
        return f"{column} IN ({self.marks(len(values))})", tuple(values)

    def id_filter(self, keys: list[Any]) -> tuple[str, tuple[Any, ...]]:
        return self.in_filter("id", keys)

    def run(self, sql: str, params: Any) -> Any:
        return self.conn.exec_driver_sql(sql, params)

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """PostgreSQL: COPY ``rows`` into ``table`` in this transaction."""
        driver = self.conn.connection.driver_connection
        if driver is None:  # pragma: no cover - a checked-out connection always has one
            raise RuntimeError("no DBAPI connection")
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    @contextmanager
    def big_cache(self) -> Iterator[None]:
        """SQLite: a 128 MiB page cache for the duration, so a transaction touching tens of
        thousands of random rows does not re-read (or spill) pages again and again. The old
        size comes back afterwards: pooled connections must not keep 128 MiB each."""
        if self.dialect.name != "sqlite":
            yield
            return
        before = self.conn.exec_driver_sql("PRAGMA cache_size").scalar()
        if before is not None and int(before) <= -BIG_CACHE_KIB:  # an outer block set it
            yield
            return
        self.conn.exec_driver_sql(f"PRAGMA cache_size = -{BIG_CACHE_KIB}")
        try:
            yield
        finally:
            self.conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")


def memo(proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A bind processor remembering its results: a batch repeats the same times and ids (every
    row's ``now``, an alert's id on each of its recipients), and processing is the costly part."""
    done: dict[Any, Any] = {}

    def process(value: Any) -> Any:
        try:
            return done[value]
        except KeyError:
            result = done[value] = proc(value)
            return result
        except TypeError:  # unhashable (JSON)
            return proc(value)

    return process


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys): one executemany (SQLite) or COPY
    (PostgreSQL)."""
    if not rows:
        return
    raw = RawSQL(session)
    names = list(rows[0])
    procs = [memo(raw.processor(table.c[name])) for name in names]
    values = [tuple(proc(row[name]) for proc, name in zip(procs, names, strict=True)) for row in rows]  # fmt: skip
    if raw.arrays:
        raw.copy_rows(table.name, names, values)
    else:
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({raw.marks(len(names))})"  # noqa: S608
        raw.run(sql, values)


__all__ = ["IN_CHUNK", "RawSQL", "chunks", "insert_rows", "memo"]
