"""The Alembic migrations build exactly the schema the models declare, on every backend."""

from __future__ import annotations

import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, inspect, update
from sqlalchemy.exc import IntegrityError

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


def _conventional(table: str, name: str) -> str:
    """The name the metadata's naming convention gives a CHECK constraint in the database."""
    return name if name.startswith("ck_") else f"ck_{table}_{name}"


def _model_checks() -> set[tuple[str, str]]:
    modules.import_models()
    return {
        (table.name, _conventional(table.name, str(constraint.name)))
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint) and constraint.name
    }


def test_every_check_constraint_of_the_models_is_in_the_database(env):
    """Autogenerate does not compare CHECK constraints, so the migrations' are checked here:
    every state column's CHECK (core/states.py) exists, by name, after migrating."""
    inspector = inspect(env.db.engine)
    found = {
        (table, str(check["name"]))
        for table in inspector.get_table_names()
        for check in inspector.get_check_constraints(table)
        if check.get("name")
    }
    expected = _model_checks()
    assert len(expected) >= 8  # alert, crisis, concern, follow-up, kiosk, campaign, grant, decision
    assert expected - found == set()


def _quoted(sql: str) -> set[str]:
    return set(re.findall(r"'([a-z_]+)'", sql))


def test_the_migrated_checks_allow_exactly_the_models_states(env):
    """The migration writes the state lists out; they must equal the enums' values now."""
    inspector = inspect(env.db.engine)
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            if not (isinstance(constraint, CheckConstraint) and constraint.name):
                continue
            name = _conventional(table.name, str(constraint.name))
            stored = {c["name"]: c["sqltext"] for c in inspector.get_check_constraints(table.name)}
            assert _quoted(stored[name]) == _quoted(str(constraint.sqltext)), name


def test_the_database_refuses_a_state_no_table_knows(db_session):
    """Whatever writes the row (bulk SQL included), an unknown state does not get in."""
    from tests.factories import make_school, make_student
    from wellbeing.crisis.models import Crisis
    from wellbeing.db import utcnow

    school = make_school(db_session)
    student = make_student(db_session, school)
    crisis = Crisis(student_id=student.id, school_id=school.id, opened_at=utcnow())
    db_session.add(crisis)
    db_session.flush()
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.execute(update(Crisis).where(Crisis.id == crisis.id).values(state="bogus"))
    db_session.refresh(crisis)
    assert crisis.state == "open"
