"""Engine, the declarative base, shared column aliases and the request-scoped session.

Rows get UUID keys made in Python (``uuid4`` at construction), so that the row id is known
before insert and can be bound into the associated data of field encryption.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from flask import current_app, g, has_app_context
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    Uuid,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker

from .config import sqlite_path


def utcnow() -> dt.datetime:
    """Timezone-aware current UTC time; the one clock the app reads (tests move it)."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores aware datetimes as UTC and always returns aware UTC datetimes (SQLite drops tz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

uuidpk = Annotated[uuid.UUID, mapped_column(Uuid, primary_key=True, default=uuid.uuid4)]
intpk = Annotated[
    int, mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
]
created_at = Annotated[dt.datetime, mapped_column(UTCDateTime, default=utcnow, nullable=False)]
timestamp = Annotated[dt.datetime, mapped_column(UTCDateTime)]
str20 = Annotated[str, mapped_column(String(20))]
str64 = Annotated[str, mapped_column(String(64))]
str200 = Annotated[str, mapped_column(String(200))]
jsonb = Annotated[dict[str, Any], mapped_column(JSON)]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        uuid.UUID: Uuid,
        dt.datetime: UTCDateTime,
        dict[str, Any]: JSON,
    }

    def __init__(self, **kwargs: Any) -> None:
        # Make the primary key in Python before anything else, so encrypted attributes set in
        # the same constructor call can bind the row id into their associated data.
        mapper = self.__mapper__
        for column in mapper.primary_key:
            key = column.key
            if key is not None and isinstance(column.type, Uuid) and key not in kwargs:
                setattr(self, key, uuid.uuid4())
        ordered = sorted(kwargs.items(), key=lambda kv: kv[0] not in mapper.columns)
        for key, value in ordered:
            if not hasattr(type(self), key):
                raise TypeError(f"{key!r} is an invalid keyword argument for {type(self).__name__}")
            setattr(self, key, value)


def table_of(model: type[Base]) -> Table:
    """A mapped class's ``Table`` (SQLAlchemy types ``__table__`` as any ``FromClause``), for
    Core statements and bulk inserts."""
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - every model here maps one table
        raise TypeError(f"{model.__name__} is not mapped to a Table")
    return table


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy drive transactions (needed for SAVEPOINT) and take the write lock at BEGIN,
    # so concurrent writers queue on busy_timeout instead of failing with "database is locked".
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def disk_full(exc: BaseException) -> bool:
    """Did the database refuse a write for want of space? SQLite's SQLITE_FULL (the disk, or
    ``max_page_count``) or PostgreSQL's ``disk_full`` (SQLSTATE 53100), raised here or at the
    origin of this error: SQLite may roll the whole transaction back on SQLITE_FULL, and the
    error seen is then the rollback to a savepoint that no longer exists."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        orig = getattr(current, "orig", current)
        if isinstance(orig, sqlite3.Error) and (
            getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or "database or disk is full" in str(orig)
        ):
            return True
        if getattr(orig, "sqlstate", None) == "53100":
            return True
        current = current.__cause__ or current.__context__
    return False


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if not url.startswith("sqlite"):
        # A connection the server dropped (restart, failover, a cut line) is replaced when it
        # is checked out, instead of failing the request that gets it (tests/faults).
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


class Database:
    """The app's engine and session factory (kept in ``app.extensions['wellbeing.db']``)."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work outside requests (CLI, jobs): commit on success, roll back on error."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def get_db() -> Database:
    return current_app.extensions["wellbeing.db"]


def get_session() -> Session:
    """The request-scoped session; committed or rolled back only in ``wellbeing.web``."""
    if not has_app_context():
        raise RuntimeError("get_session() needs an application context")
    if "db_session" not in g:
        g.db_session = get_db().sessionmaker()
    return g.db_session
