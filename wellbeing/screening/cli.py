"""``wellbeing screening campaigns add`` and ``wellbeing screening import FILE``."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path

import click
from sqlalchemy import select

from ..core.tabular import TabularError
from ..orgs.models import School
from .errors import IntakeError, ScreeningError
from .intake.importer import import_file
from .models import Campaign
from .services import create_campaign


@click.group("screening")
def group() -> None:
    """Screening campaigns and result imports."""


@group.group("campaigns")
def campaigns() -> None:
    """Screening campaigns."""


def _grades(text: str) -> list[int]:
    match = re.fullmatch(r"\s*(\d{1,2})\s*(?:-\s*(\d{1,2})\s*)?", text)
    if match is None:
        raise click.BadParameter("use a grade or a range such as 4-12")
    low, high = int(match[1]), int(match[2] or match[1])
    if not 1 <= low <= high <= 12:
        raise click.BadParameter("grades are 1 to 12")
    return list(range(low, high + 1))


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD") from None


@campaigns.command("add")
@click.option("--name", required=True)
@click.option("--instruments", required=True, help="Comma-separated codes, e.g. phq9,gad7.")
@click.option("--school", "schools", multiple=True, help="School code (repeat for several).")
@click.option("--all-schools", is_flag=True, help="Every active school of the district.")
@click.option("--grades", default="4-12", show_default=True)
@click.option("--opens", required=True, help="YYYY-MM-DD")
@click.option("--closes", required=True, help="YYYY-MM-DD")
@click.option("--consent-text", default="")
def add(
    name: str, instruments: str, schools: tuple[str, ...], all_schools: bool, grades: str,
    opens: str, closes: str, consent_text: str,
) -> None:  # fmt: skip
    """Create a campaign; prints its id alone on the last line."""
    from ..cli import Refused, app_context  # circle: wellbeing.cli imports this file (group)

    grade_list, opens_on, closes_on = _grades(grades), _date(opens), _date(closes)
    if not schools and not all_schools:
        raise click.UsageError("give --school CODE or --all-schools")
    with app_context() as ctx:
        try:
            with ctx.db.session() as session:
                if all_schools:
                    found = list(
                        session.scalars(select(School).where(School.active).order_by(School.code))
                    )
                else:
                    found = list(session.scalars(select(School).where(School.code.in_(schools))))
                    missing = sorted(set(schools) - {s.code for s in found})
                    if missing:
                        raise ScreeningError(f"unknown school code: {', '.join(missing)}")
                campaign = create_campaign(
                    session, None, name=name, instruments=[c.strip() for c in instruments.split(",") if c.strip()],
                    schools=found, grades=grade_list, opens_on=opens_on, closes_on=closes_on,
                    consent_text=consent_text, district_wide=all_schools,
                )  # fmt: skip
                campaign_id = campaign.id
        except ScreeningError as exc:
            raise Refused(exc.english) from None
    click.echo(f"campaign '{name}' created for {len(found)} school(s)")
    click.echo(str(campaign_id))


@group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--campaign", "campaign_id", required=True, type=click.UUID)
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
@click.option("--mapping", "mapping_name", default=None, help="Name of a saved column mapping.")
def import_command(
    file: Path, campaign_id: uuid.UUID, dry_run: bool, mapping_name: str | None
) -> None:
    """Import screening results (CSV/XLSX, one row per student)."""
    from ..cli import EXIT_REFUSED, Refused, app_context  # circle: wellbeing.cli imports this

    with app_context() as ctx:
        try:
            with ctx.db.session() as session:
                campaign = session.get(Campaign, campaign_id)
                if campaign is None:
                    raise IntakeError("no campaign with this id")
                report = import_file(
                    session, None, campaign, file, dry_run=dry_run, mapping_name=mapping_name
                )
                if not report.ok:
                    session.rollback()
        except (IntakeError, TabularError) as exc:
            reason = exc.english if isinstance(exc, IntakeError) else str(exc)
            raise Refused(f"{file.name}: {reason}") from None
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if not report.ok:
        for error in report.errors:
            click.echo(str(error), err=True)
        if report.errors_truncated:
            click.echo(f"... and {report.errors_truncated} more errors", err=True)
        click.echo(
            f"{file.name}: {len(report.errors) + report.errors_truncated} error(s); nothing was imported",
            err=True,
        )
        raise SystemExit(EXIT_REFUSED)
    if dry_run:
        click.echo("dry run: nothing was written")
    for line in report.summary_lines():
        click.echo(line)
