"""``wellbeing backup restore-drill``: restore a dump into a scratch database and check it.

The drill reads only what it needs from the environment (the key file and the PostgreSQL
server), so it runs on the machine that holds the backups as well as on the app's server.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..core import audit_verify, crypto
from .restore_drill import DEFAULT_SAMPLE, DrillRefused, run_drill


@click.group("backup")
def group() -> None:
    """Backups: pg_dump of the database plus the key file, kept apart."""


@group.command("restore-drill")
@click.argument("dump", type=click.Path(exists=True, path_type=Path))
@click.option("--server", envvar="WELLBEING_DATABASE_URL", show_envvar=True,
              help="PostgreSQL server to restore on (a postgresql:// URL; a new scratch database "
                   "is created there, the URL's own database is not touched).")  # fmt: skip
@click.option("--key-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The backed-up key file (default: WELLBEING_KEY_FILE or WELLBEING_MASTER_KEY).")  # fmt: skip
@click.option("--checkpoint", "checkpoint_file",
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A signed audit checkpoint written before the dump: the copy must reach it.")  # fmt: skip
@click.option("--sample", default=DEFAULT_SAMPLE, show_default=True, type=click.IntRange(0),
              help="Values decrypted per encrypted column (0: all).")  # fmt: skip
@click.option("--keep", is_flag=True, help="Keep the scratch database for a look (drop it later).")
def restore_drill(dump: Path, server: str | None, key_file: Path | None,
                  checkpoint_file: Path | None, sample: int, keep: bool) -> None:  # fmt: skip
    """Restore DUMP (a pg_dump file) into a new scratch database, unwrap its data keys with the
    key file, verify the audit chain, decrypt a sample of every encrypted column, then drop the
    scratch database. Exit 0: PASS; 3: FAIL (the backup or key file cannot be trusted)."""
    from ..cli import EXIT_INTEGRITY, Refused  # circle: wellbeing.cli imports this file (group)

    if not server:
        raise Refused("no PostgreSQL server: give --server or set WELLBEING_DATABASE_URL")
    try:
        material = crypto.load_key_material(
            str(key_file) if key_file else os.environ.get("WELLBEING_KEY_FILE"),
            None if key_file else os.environ.get("WELLBEING_MASTER_KEY"),
        )
    except crypto.KeyConfigError as exc:
        raise Refused(str(exc)) from None
    try:
        checkpoint = audit_verify.Checkpoint.load(checkpoint_file) if checkpoint_file else None
    except (ValueError, TypeError, OSError):
        raise Refused(f"{checkpoint_file} is not a readable checkpoint file") from None
    click.echo(f"restore drill: {dump}")
    try:
        report = run_drill(dump, server, material, sample=sample, checkpoint=checkpoint,
                           keep=keep, say=click.echo)  # fmt: skip
    except DrillRefused as exc:
        raise Refused(str(exc)) from None
    for step, ok, detail in report.steps:
        click.echo(f"  {'ok  ' if ok else 'FAIL'} {step}: {detail}")
    for check in report.fields:
        if not check.ok:
            click.echo(f"  FAIL {check.table}.{check.column}: {check.error}", err=True)
    if not report.ok:
        click.echo("FAIL: this backup could not be restored and read back", err=True)
        raise SystemExit(EXIT_INTEGRITY)
    click.echo("PASS: the backup restores, its audit chain is intact and its data decrypts")
