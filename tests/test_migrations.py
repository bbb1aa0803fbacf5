"""The Alembic migrations build exactly the schema the models declare, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from wellbeing import modules
from wellbeing.db import Base

# Tables that exist in the database but are owned by a library, not by our models.
FOREIGN_TABLES = {"alembic_version", "apscheduler_jobs"}


def _include(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    return not (type_ == "table" and name in FOREIGN_TABLES)


def test_migrated_schema_matches_the_models(env):
    modules.import_models()
    with env.db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": _include}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_every_model_table_exists_after_migration(env):
    modules.import_models()
    existing = set(inspect(env.db.engine).get_table_names())
    missing = sorted(set(Base.metadata.tables) - existing)
    assert missing == []
    assert "alembic_version" in existing
