"""The restore drill: prove that a backup can be read back with the key file kept apart.

A backup is two things stored in different places: a ``pg_dump`` of the database and the master
key file (SECURITY.md, "Key handling"). Either alone is useless, so the only proof that the
pair works is to put them together somewhere harmless. :func:`run_drill`

1. creates a new scratch database (a unique name, never an existing one) on a PostgreSQL server;
2. restores the dump into it (``pg_restore`` for custom, directory and tar dumps, ``psql`` for
   plain SQL) in one transaction, stopping at the first error;
3. unwraps the restored data keys with the key file (a wrong or missing key file fails here);
4. walks the audit chain of the copy (``audit verify``), against a signed checkpoint if given;
5. decrypts a sample of every encrypted column of every table (rows in primary-key order:
   the keys are random UUIDs, so the first rows are a random sample) and decodes each value;
6. drops the scratch database (unless asked to keep it) and says PASS or FAIL.

Nothing is written to the live database; the copy is dropped even when a step fails.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import subprocess  # pg_restore / psql: the restore tools (fixed argv, no shell)
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import LargeBinary, create_engine, func, select, text, type_coerce
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from .. import modules
from ..core import audit_verify, crypto
from ..core.fields import Encrypted, Kind, encrypted_fields
from ..db import Database
from .services import load_keyring

DEFAULT_SAMPLE = 100
PGDUMP_MAGIC = b"PGDMP"


class DrillRefused(Exception):
    """The drill cannot start (no PostgreSQL server, no restore tool, no dump): nothing done."""


@dataclass
class FieldCheck:
    """One encrypted column: how many values it holds, how many were decrypted, what failed."""

    table: str
    column: str
    values: int = 0
    checked: int = 0
    failed: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.error


@dataclass
class DrillReport:
    database: str
    steps: list[tuple[str, bool, str]] = field(default_factory=list)  # (step, ok, detail)
    fields: list[FieldCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(ok for _, ok, _ in self.steps)

    def add(self, step: str, ok: bool, detail: str) -> None:
        self.steps.append((step, ok, detail))


# --------------------------------------------------------------------------- the server


def server_url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise DrillRefused(
            "the restore drill needs a PostgreSQL server (--server or WELLBEING_DATABASE_URL "
            f"as postgresql://…), got {parsed.get_backend_name()!r}"
        )
    return parsed


def scratch_name(now: dt.datetime | None = None) -> str:
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d%H%M%S")
    return f"wellbeing_drill_{stamp}_{secrets.token_hex(3)}"


def _admin_engine(server: URL) -> Any:
    return create_engine(server, isolation_level="AUTOCOMMIT")


def create_database(server: URL, name: str) -> None:
    engine = _admin_engine(server)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def drop_database(server: URL, name: str) -> None:
    if not name.startswith("wellbeing_drill_"):  # only ever what the drill created
        raise ValueError(f"refusing to drop {name!r}: not a drill database")
    engine = _admin_engine(server)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def libpq_target(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password (it goes in PGPASSWORD, not on a command line)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def restore_command(dump: Path, target: str) -> list[str]:
    """``pg_restore`` for pg_dump's archive formats, ``psql`` for a plain SQL script."""
    archive = dump.is_dir() or dump.suffix == ".tar"
    if not archive:
        with dump.open("rb") as handle:
            archive = handle.read(len(PGDUMP_MAGIC)) == PGDUMP_MAGIC
    if archive:
        tool = shutil.which("pg_restore")
        if tool is None:
            raise DrillRefused("pg_restore is not installed (Debian: postgresql-client)")
        return [tool, "--no-owner", "--no-privileges", "--exit-on-error",
                "--single-transaction", "--dbname", target, str(dump)]  # fmt: skip
    tool = shutil.which("psql")
    if tool is None:
        raise DrillRefused("psql is not installed (Debian: postgresql-client)")
    return [tool, "--quiet", "--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--single-transaction",
            "--dbname", target, "--file", str(dump)]  # fmt: skip


def restore(dump: Path, target: URL) -> None:
    """Load the dump; raises RuntimeError with the tool's last lines when it fails."""
    uri, env = libpq_target(target)
    argv = restore_command(dump, uri)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603 (fixed argv, no shell)
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise RuntimeError(f"{Path(argv[0]).name} failed (exit {done.returncode}): {tail}")


# --------------------------------------------------------------------------- the checks


def _decode(kind: Kind, raw: bytes) -> Any:
    if kind is Kind.DATE:
        return dt.date.fromisoformat(raw.decode())
    if kind is Kind.JSON:
        return json.loads(raw)
    return raw.decode()


def check_field(db: Database, keyring: crypto.Keyring, model: type[Any], enc: Encrypted,
                sample: int) -> FieldCheck:  # fmt: skip
    """Decrypt and decode up to ``sample`` values of one column (0: every value)."""
    table = model.__table__
    result = FieldCheck(table.name, enc.name)
    blob = type_coerce(table.c[enc.column], LargeBinary)
    try:
        with db.session() as session:
            result.values = session.scalar(select(func.count()).where(blob.is_not(None))) or 0
            stmt = select(table.c.id, blob).where(blob.is_not(None)).order_by(table.c.id)
            rows = session.execute(stmt.limit(sample) if sample else stmt).all()
    except SQLAlchemyError as exc:
        result.error = f"cannot read {table.name}.{enc.column}: {type(exc).__name__}"
        return result
    for row_id, value in rows:
        result.checked += 1
        try:
            _decode(enc.kind, keyring.decrypt(bytes(value), enc.context(row_id)))
        except (crypto.CryptoError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            result.failed += 1
            result.error = result.error or f"row {row_id}: {exc}"
    return result


def run_drill(
    dump: Path,
    server: str,
    material: crypto.KeyMaterial,
    *,
    sample: int = DEFAULT_SAMPLE,
    checkpoint: audit_verify.Checkpoint | None = None,
    keep: bool = False,
    say: Callable[[str], None] = lambda _line: None,
) -> DrillReport:
    """Restore ``dump`` into a new scratch database on ``server`` and check it (see the module
    docstring). ``say`` receives progress lines."""
    base = server_url(server)
    if not dump.exists():
        raise DrillRefused(f"{dump} does not exist")
    modules.import_models()  # every encrypted column registers itself on import
    name = scratch_name()
    target = base.set(database=name)
    report = DrillReport(name)
    create_database(base, name)
    say(f"scratch database {name} created on {base.host or 'localhost'}:{base.port or 5432}")
    db: Database | None = None
    try:
        started = time.perf_counter()
        try:
            restore(dump, target)
        except (RuntimeError, DrillRefused) as exc:
            report.add("restore", False, str(exc))
            return report
        report.add(
            "restore", True, f"{dump.name} restored in {time.perf_counter() - started:.1f} s"
        )
        db = Database(target.render_as_string(hide_password=False))
        _check_copy(db, material, sample, checkpoint, report)
        return report
    finally:
        if db is not None:
            db.dispose()
        if keep:
            say(f"scratch database {name} kept (drop it when done)")
        else:
            drop_database(base, name)
            say(f"scratch database {name} dropped")


def _check_copy(db: Database, material: crypto.KeyMaterial, sample: int,
                checkpoint: audit_verify.Checkpoint | None, report: DrillReport) -> None:  # fmt: skip
    try:
        with db.session() as session:
            keyring = load_keyring(session, material)
    except crypto.KeyConfigError as exc:
        report.add("keys", False, f"the key file does not open this backup's data keys: {exc}")
        return
    except SQLAlchemyError as exc:
        report.add("keys", False, f"no data keys in the restored database: {type(exc).__name__}")
        return
    report.add("keys", True, f"data keys unwrapped with key file {material.master_fingerprint}")
    token = crypto.bind_keyring(keyring)  # this context only: the live keyring is untouched
    try:
        with db.session() as session:
            chain = audit_verify.verify_chain(session, checkpoint)
        against = f" against checkpoint seq {checkpoint.seq}" if checkpoint else ""
        detail = f"{chain.checked} sealed entries{against}, {chain.unsealed} not sealed yet"
        report.add("audit verify", chain.ok, detail if chain.ok else f"{chain.message}; {detail}")
        for model, enc in sorted(encrypted_fields(), key=lambda me: (me[1].table, me[1].name)):
            report.fields.append(check_field(db, keyring, model, enc, sample))
    finally:
        crypto.unbind_keyring(token)
    bad = [f for f in report.fields if not f.ok]
    checked = sum(f.checked for f in report.fields)
    columns = len(report.fields)
    if bad:
        first = bad[0]
        report.add("decrypt", False, f"{len(bad)} of {columns} columns fail; first: "
                                     f"{first.table}.{first.column}: {first.error}")  # fmt: skip
    else:
        report.add("decrypt", True, f"{checked} values of {columns} encrypted columns decrypted")
