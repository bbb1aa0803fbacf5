"""``wellbeing audit verify|checkpoint|seal``."""

from __future__ import annotations

from pathlib import Path

import click

from ..core import audit, audit_verify


@click.group("audit")
def group() -> None:
    """The tamper-evident audit trail."""


@group.command("seal")
def seal() -> None:
    """Seal committed entries into the chain now (the scheduler does this every few seconds)."""
    from ..cli import app_context  # circle: wellbeing.cli imports this file (group)

    with app_context() as ctx:
        click.echo(f"sealed {audit.seal_pending(ctx.db)} entries")


@group.command("checkpoint")
def checkpoint() -> None:
    """Seal everything committed, then write a signed checkpoint to
    WELLBEING_AUDIT_CHECKPOINT_DIR."""
    from ..cli import app_context  # circle: wellbeing.cli imports this file (group)

    with app_context() as ctx:
        cp = audit_verify.write_checkpoint(ctx.db, Path(ctx.settings.audit_checkpoint_dir))
    click.echo(f"checkpoint at seq {cp.seq}, head {cp.head_mac[:16]}…")


@group.command("verify")
@click.option(
    "--checkpoint", "checkpoint_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Compare with this checkpoint. Default: the newest file in "
    "WELLBEING_AUDIT_CHECKPOINT_DIR, if any.",
)  # fmt: skip
@click.option(
    "--full", is_flag=True,
    help="Walk the whole chain from its first entry. Default: from the newest signed "
    "checkpoint inside the range an earlier run verified (the whole chain the first time).",
)  # fmt: skip
def verify(checkpoint_file: Path | None, full: bool) -> None:
    """Walk the chain; exit 0 when intact, 3 naming the first bad entry otherwise."""
    from ..cli import EXIT_INTEGRITY, app_context  # circle: wellbeing.cli imports this file (group)

    with app_context() as ctx:
        directory = Path(ctx.settings.audit_checkpoint_dir)
        path = checkpoint_file or audit_verify.latest_checkpoint_file(directory)
        try:
            cp = audit_verify.Checkpoint.load(path) if path else None
        except (ValueError, TypeError, OSError):
            click.echo(f"error: {path} is not a readable checkpoint file", err=True)
            raise SystemExit(EXIT_INTEGRITY) from None
        result = audit_verify.verify_and_record(
            ctx.db, cp, directory=directory, full=full, checkpoint_path=checkpoint_file
        )
    against = f" against checkpoint seq {cp.seq}" if cp else " (no checkpoint)"
    click.echo(f"checked {result.checked} sealed entries{against}")
    if result.mode == "checkpoint":
        start = f"from the signed checkpoint at seq {(result.from_seq or 1) - 1}"
    else:
        start = "from the first entry" + ("" if full else " (no verified checkpoint yet)")
    span = f"seq {result.from_seq}–{result.to_seq}, " if result.from_seq else ""
    click.echo(f"mode {result.mode}, {start}: {span}{result.rate:,.0f} entries/s")
    click.echo(f"{result.unsealed} entries not sealed yet")
    if not result.ok:
        where = f" (first bad entry: seq {result.first_bad_seq})" if result.first_bad_seq else ""
        click.echo(f"TAMPERED: {result.message}{where}", err=True)
        raise SystemExit(EXIT_INTEGRITY)
    click.echo("intact")
