"""``wellbeing roster import FILE --school CODE [--dry-run]``."""

from __future__ import annotations

from pathlib import Path

import click

from ..orgs.services import school_by_code
from .roster import RowError
from .services import ImportResult, import_roster


@click.group("roster")
def group() -> None:
    """Student rosters."""


def format_error(error: RowError) -> str:
    if error.row == 0:
        return f"file: {error.message}"
    column = f", column {error.column}" if error.column else ""
    return f"row {error.row}{column}: {error.message}"


def summary(result: ImportResult) -> list[str]:
    classes = ", ".join(f"{grade}/{label}" for grade, label in result.classes_created) or "none"
    verb = "would be created" if result.dry_run else "created"
    return [
        f"rows: {result.rows_total}",
        f"students created: {result.created}",
        f"students updated: {result.updated}",
        f"students unchanged: {result.unchanged}",
        f"classes {verb}: {classes}",
    ]


@group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--school", "school_code", required=True, help="Code of the school the roster is for."
)
@click.option("--dry-run", is_flag=True, help="Validate and compare only; write nothing.")
def import_command(file: Path, school_code: str, dry_run: bool) -> None:
    """Import a roster file (CSV in UTF-8/GB18030, or XLSX) into a school."""
    from ..cli import Refused, app_context  # circle: wellbeing.cli imports this file (group)

    with app_context() as ctx, ctx.db.session() as session:
        school = school_by_code(session, school_code)
        if school is None:
            raise Refused(f"no school with code {school_code}")
        result = import_roster(session, None, school, file, file.name, dry_run=dry_run)
    for warning in result.warnings:
        click.echo(f"warning: {format_error(warning)}")
    if not result.ok:
        for error in result.errors:
            click.echo(format_error(error))
        if result.errors_truncated:
            click.echo(f"... and {result.errors_truncated} more problems")
        count = len(result.errors) + result.errors_truncated
        raise Refused(f"{count} problem(s) in {file.name}; nothing was written")
    for line in summary(result):
        click.echo(line)
    click.echo("dry run: nothing was written" if dry_run else f"imported into school {school_code}")
