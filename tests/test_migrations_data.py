"""Migrations run on a database that holds data, not only on an empty one.

SQLite changes a table (a CHECK added, a column renamed) by copying it and dropping the
original; with foreign keys enforced, that DROP fails as soon as another table's rows
reference the table (0003 rebuilt ``crisis`` under its steps). ``migrations/env.py`` runs the
migrations with enforcement off and checks every reference before the commit."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from wellbeing.auth.services import build_principal
from wellbeing.cli import alembic_config
from wellbeing.core import crypto
from wellbeing.core.authz import Role
from wellbeing.crisis import services as crisis_services
from wellbeing.db import make_engine

from .factories import make_class, make_school, make_student, make_user


def test_a_database_with_referenced_rows_migrates_down_and_up_again(env, tmp_path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path}/with-data.db"
    config = alembic_config(url)
    command.upgrade(config, "head")
    engine = make_engine(url)
    crypto.install_keyring(env.keyring)  # the rows below encrypt their fields
    with Session(engine) as session:
        school = make_school(session)
        student = make_student(session, school, make_class(session, school), tier=3)
        teacher = make_user(session, env.settings, Role.PSYCH_TEACHER, school=school)
        session.flush()
        crisis = crisis_services.open_crisis(session, student)
        assert crisis is not None
        principal = build_principal(session, teacher)
        crisis_services.complete_step(session, principal, crisis, "acknowledge")
        session.commit()

    crypto.install_keyring(None)
    command.downgrade(config, "0002")  # rebuilds crisis (state → status) under its step rows
    command.upgrade(config, "head")  # and back

    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM crisis_step")).scalar() == 1
        assert connection.execute(text("SELECT state FROM crisis")).scalar() == "open"
        assert connection.execute(text("PRAGMA foreign_key_check")).fetchall() == []
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()
