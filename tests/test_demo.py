"""The demo seed: idempotent, made through the app's services, and every demo user can work."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from wellbeing import create_app
from wellbeing.auth.models import Membership, User
from wellbeing.core.authz import Role
from wellbeing.demo import DEMO_PASSWORD, SCHOOLS, demo_logins, print_logins, roster_csv, seed_demo
from wellbeing.orgs.models import School, SchoolClass
from wellbeing.students.models import Student

from .conftest import CsrfClient, login


def _counts(db):  # type: ignore[no-untyped-def]
    with db.session() as s:
        return {
            model.__name__: s.scalar(select(func.count()).select_from(model))
            for model in (School, SchoolClass, Student, User, Membership)
        }


def test_seed_is_idempotent_and_complete(fresh_env):
    logins = seed_demo(fresh_env.db, fresh_env.settings)
    first = _counts(fresh_env.db)
    assert seed_demo(fresh_env.db, fresh_env.settings) == logins
    assert _counts(fresh_env.db) == first
    assert first["School"] == 3
    assert 550 <= first["Student"] <= 650
    assert first["SchoolClass"] == 18
    assert {login.role for login in logins} == {str(r) for r in Role}
    with fresh_env.db.session() as s:
        grades = {
            school.code: sorted(
                set(s.scalars(select(SchoolClass.grade).where(SchoolClass.school_id == school.id)))
            )
            for school in s.scalars(select(School))
        }
        assert grades == {spec.code: list(spec.grades) for spec in SCHOOLS}
        student = s.scalars(select(Student).limit(1)).one()
        assert 2 <= len(student.name) <= 4 and student.guardians[0]["phone"].startswith("1")
        assert student.name_initials_bidx is not None


def test_roster_is_deterministic_and_names_plausible():
    text = roster_csv(SCHOOLS[1])
    assert text == roster_csv(SCHOOLS[1])
    names = [line.split(",")[1] for line in text.splitlines()[1:]]
    assert len(set(names)) > len(names) * 0.6  # varied, a few namesakes like a real school
    assert all(2 <= len(n) <= 4 and all("\u4e00" <= c <= "\u9fff" for c in n) for n in names)


def test_every_demo_user_reaches_the_home_page(fresh_env):
    seed_demo(fresh_env.db, fresh_env.settings)
    app = create_app(fresh_env.settings, db=fresh_env.db)
    app.test_client_class = CsrfClient
    for demo in demo_logins():
        client = app.test_client()
        with fresh_env.db.session() as s:
            user = s.scalars(select(User).where(User.username == demo.username)).one()
        login(client, user)
        response = client.get("/")
        assert response.status_code == 200, demo.username
        assert user.display_name in response.get_data(as_text=True)


def test_demo_password_signs_in(fresh_env):
    seed_demo(fresh_env.db, fresh_env.settings)
    app = create_app(fresh_env.settings, db=fresh_env.db)
    app.test_client_class = CsrfClient
    client = app.test_client()
    response = client.post("/login", data={"username": "junior.psych", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_print_logins_lists_every_account(capsys):
    print_logins()
    out = capsys.readouterr().out
    for demo in demo_logins():
        assert demo.username in out
    assert DEMO_PASSWORD in out
    # School conventions and labels, not codes: 四年级(1)班 (was "4/1班"), 心理教师 (was psych_teacher)
    assert "四年级(1)班" in out and "/1班" not in out
    assert "心理教师" in out and "psych_teacher" not in out


@pytest.mark.slow
def test_demo_command_twice_keeps_the_data(tmp_path, monkeypatch):
    """`wellbeing demo --no-serve` as `make run` calls it, twice on the same database."""
    from wellbeing import cli
    from wellbeing.core import crypto

    key = tmp_path / "key.json"
    crypto.write_key_file(key, crypto.generate_key_material())
    monkeypatch.setenv("WELLBEING_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("WELLBEING_KEY_FILE", str(key))
    monkeypatch.setenv("WELLBEING_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("WELLBEING_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("WELLBEING_SCHEDULER_IN_PROCESS", "false")  # the command only sets a default
    runner = CliRunner()
    first = runner.invoke(cli.main, ["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    assert "admin" in first.output and DEMO_PASSWORD in first.output
    second = runner.invoke(cli.main, ["demo", "--no-serve"])
    assert second.exit_code == 0, second.output
    from wellbeing.db import Database

    db = Database(f"sqlite:///{tmp_path / 'demo.db'}")
    try:
        assert _counts(db)["Student"] == sum(roster_csv(s).count("\n") - 1 for s in SCHOOLS)
        assert _counts(db)["User"] == len(demo_logins())
    finally:
        db.dispose()
    crypto.install_keyring(None)
