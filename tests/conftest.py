"""Test harness.

Every database test runs on SQLite, and also on PostgreSQL when WELLBEING_TEST_POSTGRES_URL is
set (then a missing server is a failure, not a skip). The schema is built by the Alembic
migrations, once per backend; each test runs inside a transaction that is rolled back (requests
commit to savepoints). Tests that need real commits across threads or processes use
``fresh_env``, a brand-new migrated database.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from wellbeing import create_app
from wellbeing.cli import initialise
from wellbeing.config import Settings, load_settings
from wellbeing.core import audit, crypto
from wellbeing.db import Database

PG_ENV = "WELLBEING_TEST_POSTGRES_URL"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])
# Tests run in development (plain http test client, no Redis); production is tested on its
# own (tests/core/test_production.py). CLI tests read the process environment.
os.environ.setdefault("WELLBEING_ENV", "development")
TEST_OVERRIDES = {
    "env": "development",
    "testing": True,
    "argon2_time_cost": 1,
    "argon2_memory_kib": 1024,
    "login_limit": "1000 per minute",
    "secret_key": "x" * 48,
    # Tests read English UI text; the zh_CN default and its catalog are tested on their own
    # (tests/test_translations.py builds an app with the production default).
    "locale": "en",
}


def pytest_configure(config: pytest.Config) -> None:
    """Compile the message catalogs when a .po is newer than its .mo (``make test`` does it
    too; this keeps a bare ``pytest`` honest about translations)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[1] / "wellbeing" / "translations"
    for po_path in root.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        tmp = mo_path.with_suffix(f".mo.{os.getpid()}")
        with tmp.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        tmp.replace(mo_path)


@dataclass
class Env:
    """A migrated database with its key file, settings and keyring."""

    backend: str
    settings: Settings
    db: Database
    keyring: crypto.Keyring
    key_file: Path


def _postgres_url(suffix: str) -> str:
    base = make_url(os.environ[PG_ENV])
    name = f"{base.database or 'wellbeing_test'}_{suffix}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def build_env(backend: str, directory: Path, tag: str, **overrides: object) -> Env:
    directory.mkdir(parents=True, exist_ok=True)
    key_file = directory / f"key-{tag}.json"
    crypto.write_key_file(key_file, crypto.generate_key_material())
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if backend == "sqlite":
        url = f"sqlite:///{directory / f'{tag}.db'}"
    else:
        url = _postgres_url(f"{worker}_{tag}")
    settings = load_settings(
        environ={},
        database_url=url,
        key_file=str(key_file),
        audit_checkpoint_dir=str(directory / f"checkpoints-{tag}"),
        **{**TEST_OVERRIDES, **overrides},
    )
    initialise(settings)
    db = Database(url)
    from wellbeing import open_keyring

    return Env(backend, settings, db, open_keyring(db, settings), key_file)


@pytest.fixture(scope="session", params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    environment = build_env(request.param, tmp_path_factory.mktemp(request.param), "main")
    yield environment
    environment.db.dispose()


@pytest.fixture(scope="session")
def app(env: Env) -> Flask:
    return create_app(env.settings, db=env.db)


@pytest.fixture
def db_session(env: Env, app: Flask) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test; the app's requests
    and ``Database.session()`` units of work join it through savepoints."""
    connection = env.db.engine.connect()
    transaction = connection.begin()
    env.db.sessionmaker.configure(bind=connection, join_transaction_mode="create_savepoint")
    crypto.install_keyring(env.keyring)
    session = env.db.sessionmaker()
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()
        env.db.sessionmaker.configure(
            bind=env.db.engine, join_transaction_mode="conditional_savepoint"
        )
        crypto.install_keyring(None)


@pytest.fixture
def fresh_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    """A new migrated database committed for real (threads, processes, CLI)."""
    backend = getattr(request, "param", "sqlite")
    environment = build_env(backend, tmp_path, "fresh")
    crypto.install_keyring(environment.keyring)
    yield environment
    crypto.install_keyring(None)
    environment.db.dispose()


class CsrfClient(FlaskClient):
    """A test client that adds a valid CSRF token to form posts unless told not to."""

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        method = kwargs.get("method", "GET").upper()
        data = kwargs.get("data")
        wants_token = method in {"POST", "PUT", "PATCH", "DELETE"} and kwargs.pop("csrf", True)
        if wants_token and (data is None or isinstance(data, dict)):
            data = dict(data or {})
            data.setdefault("csrf_token", self.csrf_token())
            kwargs["data"] = data
        return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        raw = uuid.uuid4().hex
        with self.session_transaction() as sess:
            raw = sess.setdefault("csrf_token", raw)
        app = self.application
        serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token")
        return serializer.dumps(raw)


@pytest.fixture
def client(app: Flask, db_session: Session) -> FlaskClient:
    app.test_client_class = CsrfClient
    return app.test_client()


def login(client: FlaskClient, user, mfa_passed: bool = True) -> None:  # type: ignore[no-untyped-def]
    """Sign ``user`` in by creating a server-side session directly (the login form has its own
    tests); the client then carries the session cookie like a browser."""
    from wellbeing.auth.services import start_session

    db: Database = client.application.extensions["wellbeing.db"]
    with db.session() as session:
        new = start_session(session, session.merge(user), "127.0.0.1", mfa_passed)
    with client.session_transaction() as sess:
        sess["sid"] = new.token


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


@pytest.fixture
def audit_entries(db_session: Session):  # type: ignore[no-untyped-def]
    """Callable returning audit entries recorded so far in this test, newest last."""
    from sqlalchemy import func, select

    from wellbeing.audit.models import AuditEntry

    # Entries of this test only, even if another test committed some to the shared database.
    first_id = (db_session.scalar(select(func.max(AuditEntry.id))) or 0) + 1

    def fetch(action: audit.AuditAction | None = None) -> list[AuditEntry]:
        db_session.expire_all()
        stmt = select(AuditEntry).where(AuditEntry.id >= first_id).order_by(AuditEntry.id)
        if action is not None:
            stmt = stmt.where(AuditEntry.action == str(action))
        return list(db_session.scalars(stmt))

    return fetch
