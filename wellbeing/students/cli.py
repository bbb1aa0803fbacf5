"""``wellbeing roster import FILE --school CODE [--dry-run]``; ``wellbeing students leave``
and ``wellbeing students purge [--dry-run]``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..core.errors import DomainError
from ..orgs.services import school_by_code
from .enrolment import record_leavers, school_today
from .models import StudentStatus
from .retention import PurgePlan, due_plans, purge_due
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
    lines = [
        f"rows: {result.rows_total}",
        f"students created: {result.created}",
        f"students updated: {result.updated}",
        f"students unchanged: {result.unchanged}",
        f"classes {verb}: {classes}",
    ]
    if result.transferred_in:  # students.transfer: moved here from another school
        lines.append(f"students moved here from another school: {result.transferred_in}")
    if result.transfer_skipped:
        lines.append(
            f"rows skipped (student moved away from this school): {result.transfer_skipped}"
        )
    return lines


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


# --------------------------------------------------------------------------- leaving and retention


@click.group("students")
def students_group() -> None:
    """Enrolment: leavers, graduates and the retention purge of sealed records."""


@students_group.command("leave")
@click.argument("numbers", nargs=-1, required=True)
@click.option("--school", "school_code", required=True, help="Code of the students' school.")
@click.option(
    "--status", type=click.Choice(["left", "graduated"]), required=True,
    help="Left the school, or graduated.",
)  # fmt: skip
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="Date they left.")
def leave_command(numbers: tuple[str, ...], school_code: str, status: str, on: Any) -> None:
    """Record that students (by student number) left or graduated: their records are sealed."""
    from ..cli import Refused, app_context  # circle: wellbeing.cli imports this file (group)

    with app_context() as ctx, ctx.db.session() as session:
        school = school_by_code(session, school_code)
        if school is None:
            raise Refused(f"no school with code {school_code}")
        try:
            result = record_leavers(
                session, None, school, numbers, StudentStatus(status),
                on=on.date() if on else None,
            )  # fmt: skip
        except DomainError as exc:
            raise Refused(str(exc)) from None
    click.echo(f"sealed: {len(result.sealed)}")
    click.echo(f"already left or graduated: {result.already}")
    click.echo(f"not found: {result.unknown}")


@students_group.command("purge")
@click.option("--dry-run", is_flag=True, help="List what would be purged; delete nothing.")
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="Count as of this day.")
def purge_command(dry_run: bool, on: Any) -> None:
    """Purge sealed records whose retention period ran out (policy.records.retention_years)."""
    from ..cli import app_context  # circle: wellbeing.cli imports this file (group)

    with app_context() as ctx:
        today = on.date() if on else school_today()
        if dry_run:
            with ctx.db.session() as session:
                plans = due_plans(session, today)
            for plan in plans:
                click.echo(describe(plan))
            click.echo(f"dry run: {len(plans)} record(s) would be purged; nothing was deleted")
            return
        run = purge_due(ctx.db, today)
    for plan in run.purged:
        click.echo(describe(plan))
    for student_id, error in run.failed:
        click.echo(f"failed: student {student_id}: {error}")
    click.echo(f"purged {len(run.purged)} record(s)")


def describe(plan: PurgePlan) -> str:
    """One line per record: ids, dates and rows per table (never a name)."""
    tables = ", ".join(f"{name}={count}" for name, count in plan.counts.items())
    return (
        f"student {plan.student_id} ({plan.status}, left {plan.left_at}, due {plan.due_on}, "
        f"policy v{plan.rule.policy_version}: {plan.rule.years} years): {plan.total} rows: "
        f"{tables}"
    )


# Further groups of this module (``wellbeing.cli`` adds them beside ``group``).
GROUPS = [students_group]
