"""Alembic environment: the URL comes from the caller (``wellbeing init``/``db upgrade``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from wellbeing import modules
from wellbeing.db import Base, make_engine

modules.import_models()
config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)  # fmt: skip
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    """Run the migrations in one transaction. On SQLite, foreign-key enforcement is off while
    they run: SQLite alters a table (a CHECK added, a column renamed) by copying it and
    dropping the original, and that DROP fails while other tables' rows reference it (an
    existing database with data, not an empty test one). This is SQLite's own procedure for
    such changes (https://www.sqlite.org/lang_altertable.html#otheralter): enforcement off,
    which takes effect only outside a transaction, then ``PRAGMA foreign_key_check`` before
    the commit, so a migration that broke a reference fails and nothing is committed."""
    sqlite = connection.dialect.name == "sqlite" and not connection.in_transaction()
    if sqlite:  # the raw driver connection: SQLAlchemy's BEGIN would come first otherwise
        connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
    try:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True, compare_type=True)  # fmt: skip
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migrations broke foreign keys: {broken[:5]}")
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys = ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
