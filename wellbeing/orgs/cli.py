"""``wellbeing schools add``."""

from __future__ import annotations

import click

from .services import OrgError, create_school


@click.group("schools")
def group() -> None:
    """Schools of the district."""


@group.command("add")
@click.option("--code", required=True)
@click.option("--name", required=True)
def add(code: str, name: str) -> None:
    """Add a school."""
    from ..cli import Refused, app_context  # circle: wellbeing.cli imports this file (group)

    with app_context() as ctx:
        try:
            with ctx.db.session() as session:
                school = create_school(session, None, code, name)
                school_id = school.id
        except OrgError as exc:
            raise Refused(str(exc)) from None
    click.echo(f"school {code} added")
    click.echo(str(school_id))
