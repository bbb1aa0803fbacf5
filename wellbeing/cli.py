"""The ``wellbeing`` command. Exit codes: 0 success, 1 input refused (nothing written),
2 usage error, 3 integrity check failed.

Module commands live in ``wellbeing/<module>/cli.py`` as a click ``group`` and are added here.
"""

from __future__ import annotations

import getpass
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config
    from flask import Flask

from . import modules
from .config import ConfigError, Settings, load_settings
from .core import audit, crypto
from .db import Database, disk_full
from .keys.services import (
    count_stale,
    ensure_data_keys,
    key_status,
    load_keyring,
    reencrypt_purpose,
    retire_unused,
    rewrap_all,
    rotation_in_progress,
    start_rotation,
)

EXIT_REFUSED, EXIT_USAGE, EXIT_INTEGRITY = 1, 2, 3
REPO_ROOT = Path(__file__).resolve().parent.parent


class Refused(click.ClickException):
    """Input refused: prints ``error: …`` and exits 1."""

    exit_code = EXIT_REFUSED

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@dataclass
class Context:
    settings: Settings
    db: Database
    keyring: crypto.Keyring


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise Refused(str(exc)) from None


def cli_actor() -> audit.Actor:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return audit.Actor(username=f"cli:{who}"[:64], role="system", scope="cli")


@contextmanager
def app_context() -> Iterator[Context]:
    """Open the database with its keyring for a command; refuse with one line when keys are off."""
    from . import open_keyring  # the app package is the roof (tests/test_layers.py)

    settings = settings_or_exit()
    modules.import_services()
    db = Database(settings.database_url)
    try:
        keyring = open_keyring(db, settings)
    except (ConfigError, crypto.KeyConfigError) as exc:
        db.dispose()
        raise Refused(str(exc)) from None
    crypto.install_keyring(keyring)
    token = audit.set_actor(cli_actor())
    try:
        yield Context(settings, db, keyring)
    except DBAPIError as exc:
        if disk_full(exc):  # the transaction rolled back: one line, not a traceback
            raise Refused(
                "the database has run out of storage space; nothing was written"
            ) from None
        raise
    finally:
        audit._cli_actor.reset(token)
        crypto.install_keyring(None)
        db.dispose()


# --------------------------------------------------------------------------- migrations


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config  # Alembic loads only for commands that migrate

    cfg = Config()
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade_database(database_url: str) -> None:
    from alembic import command  # Alembic loads only for commands that migrate

    command.upgrade(alembic_config(database_url), "head")


def initialise(settings: Settings) -> list[str]:
    """Migrate, then create missing data keys under the master key. Idempotent."""
    material = crypto.load_key_material(settings.key_file, settings.master_key)
    upgrade_database(settings.database_url)
    modules.import_models()
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            created = ensure_data_keys(session, material)
            keyring = load_keyring(session, material)  # proves the key unwraps what is stored
            crypto.install_keyring(keyring)
            if created:
                audit.record(session, audit.AuditAction.KEYS_INIT, object_type="data_key",
                             detail={"created": created}, actor=cli_actor())  # fmt: skip
    finally:
        db.dispose()
    return created


# --------------------------------------------------------------------------- commands


@click.group()
@click.version_option(package_name="wellbeing")
def main() -> None:
    """Wellbeing: case management for students' psychological health."""


@main.command()
@click.option(
    "--admin", "admin_username", help="Create this first administrator (when none exists)."
)
@click.option("--district", "district_name", default="District", show_default=True,
              help="The district's name, when the database has none yet.")  # fmt: skip
@click.option(
    "--password-stdin", is_flag=True, help="Read the administrator's password from stdin."
)
def init(admin_username: str | None, district_name: str, password_stdin: bool) -> None:
    """Apply migrations and prepare the key material (WELLBEING_DATABASE_URL, WELLBEING_KEY_FILE);
    with --admin, create the first administrator (they enrol a second factor at first sign-in)."""
    settings = settings_or_exit()
    try:
        created = initialise(settings)
    except crypto.KeyConfigError as exc:
        raise Refused(str(exc)) from None
    click.echo(
        f"database ready; data keys created: {', '.join(created) or 'none (already present)'}"
    )
    click.echo(_first_admin(admin_username, district_name, password_stdin))


def _first_admin(username: str | None, district_name: str, password_stdin: bool) -> str:
    """Create the first administrator once; say what to do when there is none yet."""
    from .auth.admin import create_user, grant_membership  # a module: loads when a command runs
    from .auth.models import Membership  # (see above)
    from .auth.services import PasswordPolicyError  # (see above)
    from .core.authz import Role  # (see above: loads the policy only with the modules)
    from .orgs.services import OrgError, ensure_district  # (see above)

    with app_context() as ctx, ctx.db.session() as session:
        admins = session.scalar(
            select(func.count(Membership.id)).where(Membership.role == str(Role.ADMIN))
        )
        if admins:
            return f"an administrator exists already ({admins}); none created"
        if not username:
            return (
                "no administrator yet: run `wellbeing init --admin USERNAME` "
                "(add --password-stdin to pipe the password)"
            )
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt("password", hide_input=True, confirmation_prompt=True)
        try:
            ensure_district(session, "district", district_name)
            user = create_user(session, None, ctx.settings, username=username, password=password)
            grant_membership(session, None, user, Role.ADMIN)
        except (OrgError, PasswordPolicyError) as exc:
            session.rollback()
            raise Refused(str(exc)) from None
        return (
            f"administrator {user.username} created; they set up two-factor sign-in "
            "at their first sign-in"
        )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations."""
    upgrade_database(settings_or_exit().database_url)
    click.echo("database schema is up to date")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def run(host: str, port: int) -> None:
    """Serve the app in one process (WELLBEING_ENV defaults to production; gunicorn serves more)."""
    from . import create_app  # the app package is the roof (tests/test_layers.py)

    settings = settings_or_exit()
    try:
        # One process: in-memory login throttles are real throttles here (no Redis needed).
        app = create_app(settings.with_overrides(single_process=True))
    except (ConfigError, crypto.KeyConfigError) as exc:
        raise Refused(str(exc)) from None
    app.run(host=host, port=port, debug=False, use_reloader=False)


@main.command()
@click.option("--serve/--no-serve", default=True, help="Serve on 127.0.0.1:5000 after seeding.")
@click.option("--port", default=5000, show_default=True, type=int)
def demo(serve: bool, port: int) -> None:
    """Development: make a key file if none, migrate, seed a demo district (once), serve."""
    from .demo import DEV_KEY_FILE, print_logins, seed_demo  # the demo data is the roof

    if not os.environ.get("WELLBEING_KEY_FILE") and not os.environ.get("WELLBEING_MASTER_KEY"):
        if not DEV_KEY_FILE.exists():
            crypto.write_key_file(DEV_KEY_FILE, crypto.generate_key_material())
            click.secho(
                f"WARNING: created {DEV_KEY_FILE} -- a DEVELOPMENT key file. Never use it for real "
                "data; in production keep the key file outside the app and back it up: without it "
                "the data cannot be read.",
                fg="red", bold=True, err=True,
            )  # fmt: skip
        os.environ["WELLBEING_KEY_FILE"] = str(DEV_KEY_FILE)
    os.environ.setdefault("WELLBEING_SCHEDULER_IN_PROCESS", "true")
    # Plain http on 127.0.0.1: no Secure cookies, no HSTS, links to this very server.
    os.environ.setdefault("WELLBEING_ENV", "development")
    os.environ.setdefault("WELLBEING_BASE_URL", f"http://127.0.0.1:{port}")
    settings = settings_or_exit()
    initialise(settings)
    with app_context() as ctx:
        logins = seed_demo(ctx.db, ctx.settings)
    print_logins(logins)
    if serve:
        from . import create_app  # the app package is the roof (tests/test_layers.py)

        app = create_app(settings)
        _start_in_process_scheduler(app)
        click.echo(f"serving on http://127.0.0.1:{port}")
        app.run(host="127.0.0.1", port=port, debug=False, use_reloader=False)


def _start_in_process_scheduler(app: Flask) -> None:
    try:
        from .core.scheduler import start_in_process  # APScheduler loads only here
    except ImportError:
        return
    start_in_process(app)


@main.group()
def keys() -> None:
    """Master key file and data keys."""


@keys.command("generate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def keys_generate(file: Path) -> None:
    """Write a new master key file (mode 0600). Back it up: without it the data is lost."""
    try:
        crypto.write_key_file(file, crypto.generate_key_material())
    except FileExistsError:
        raise Refused(f"{file} already exists; refusing to overwrite a key file") from None
    click.echo(
        f"wrote {file} (mode 0600). Back it up somewhere safe: lose it and the data is gone."
    )


@keys.command("status")
def keys_status() -> None:
    """Per purpose: versions, state and how many values each still protects."""
    with app_context() as ctx, ctx.db.session() as session:
        click.echo(f"{'purpose':<10} {'version':>7} {'key id':>6} {'state':<8} {'values':>10}")
        for row in key_status(session):
            click.echo(
                f"{row.purpose:<10} {row.version:>7} {row.key_id:>6} {row.state:<8} {row.values:>10}"
            )


@keys.command("rotate")
@click.option("--purpose", type=click.Choice([str(p) for p in crypto.ENCRYPTION_PURPOSES]),
              multiple=True, help="Default: every purpose.")  # fmt: skip
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100000))
@click.option("--pause", default=0.0, show_default=True, type=click.FloatRange(0, 60),
              help="Seconds to wait between batches (leaves more room to the app).")  # fmt: skip
def keys_rotate(purpose: tuple[str, ...], batch_size: int, pause: float) -> None:
    """Make a new data key primary and re-encrypt old values in batches, online. Stopped or
    killed, run it again: it resumes the unfinished rotation instead of starting another."""
    with app_context() as ctx:
        for name in purpose or [str(p) for p in crypto.ENCRYPTION_PURPOSES]:
            with ctx.db.session() as session:
                new = rotation_in_progress(session, name)
                resumed = new is not None
                if new is None:
                    new = start_rotation(session, ctx.keyring.material, name)
                audit.record(session, audit.AuditAction.KEYS_ROTATE, object_type="data_key",
                             object_id=new.id, detail={"purpose": name, "version": new.version,
                                                       "resumed": resumed})  # fmt: skip
                version = new.version
                crypto.install_keyring(load_keyring(session, ctx.keyring.material))
            if resumed:
                click.echo(f"{name}: resuming the unfinished rotation to v{version}")
            with ctx.db.session() as session:
                total = count_stale(session, name, crypto.current_keyring().primary_key_id(name))
            started = time.monotonic()
            with click.progressbar(length=total, label=f"re-encrypting {name}") as bar:
                done = reencrypt_purpose(ctx.db, name, batch_size=batch_size, pause=pause,
                                         on_progress=bar.update)  # fmt: skip
            seconds = time.monotonic() - started
            click.echo(f"{name}: now v{version}; {done} values re-encrypted in {seconds:.1f} s "
                       f"({done / max(seconds, 1e-9):.0f} values/s)")  # fmt: skip
        with ctx.db.session() as session:
            retired = retire_unused(session)
        click.echo(f"retired: {', '.join(retired) or 'none'}")


@keys.command("rewrap")
@click.option(
    "--new-key-file", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
def keys_rewrap(new_key_file: Path) -> None:
    """Move every data key under the master key in FILE; rows are not touched."""
    try:
        new = crypto.load_key_material(str(new_key_file), None)
    except crypto.KeyConfigError as exc:
        raise Refused(str(exc)) from None
    with app_context() as ctx:
        old = ctx.keyring.material
        # The audit keys are not master keys: they travel to the new file so the chain verifies.
        merged = old.with_master(new)
        with ctx.db.session() as session:
            count = rewrap_all(session, old, merged)
            audit.record(session, audit.AuditAction.KEYS_REWRAP, object_type="data_key",
                         detail={"keys": count, "fingerprint": merged.master_fingerprint})  # fmt: skip
        crypto.write_key_file(new_key_file, merged, overwrite=True)
    click.echo(f"rewrapped {count} data keys; now set WELLBEING_KEY_FILE={new_key_file}")


def _load_module_commands() -> None:
    for group in modules.iter_parts("cli", "group"):
        main.add_command(group)
    for more in modules.iter_parts("cli", "GROUPS"):  # a module's further groups
        for group in more:
            main.add_command(group)
    # Not a module's part: the benchmarks of a source checkout (the file imports no module)
    from .bench_cli import bench

    main.add_command(bench)


_load_module_commands()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
