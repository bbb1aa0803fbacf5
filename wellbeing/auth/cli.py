"""``wellbeing users create``."""

from __future__ import annotations

import sys

import click

from ..core.authz import Role
from ..orgs.services import OrgError, find_class, school_by_code
from .admin import create_user, grant_membership
from .services import PasswordPolicyError, admin_reset_mfa, find_user


@click.group("users")
def group() -> None:
    """Staff accounts."""


@group.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--school", "school_code", help="School code (school roles).")
@click.option("--class", "class_label", help="Class as GRADE/LABEL, e.g. 7/2班 (class teachers).")
@click.option("--name", "display_name")
@click.option("--email")
@click.option(
    "--password-stdin", is_flag=True, required=True, help="Read the password from standard input."
)
def create(username: str, role: str, school_code: str | None, class_label: str | None,
           display_name: str | None, email: str | None, password_stdin: bool) -> None:  # fmt: skip
    """Create a user with one membership."""
    from ..cli import Refused, app_context  # circle: wellbeing.cli imports this file (group)

    password = sys.stdin.readline().rstrip("\r\n")
    with app_context() as ctx:
        try:
            with ctx.db.session() as session:
                school = None
                if school_code:
                    school = school_by_code(session, school_code)
                    if school is None:
                        raise OrgError("no school with code %(code)s", code=school_code)
                school_class = None
                if class_label:
                    if school is None or "/" not in class_label:
                        raise OrgError("--class needs --school and the form GRADE/LABEL")
                    grade, label = class_label.split("/", 1)
                    school_class = (
                        find_class(session, school.id, int(grade), label)
                        if grade.isdigit()
                        else None
                    )
                    if school_class is None:
                        raise OrgError(
                            "no class %(name)s in school %(code)s",
                            name=class_label,
                            code=school_code,
                        )
                user = create_user(session, None, ctx.settings, username=username, password=password,
                                   display_name=display_name, email=email)  # fmt: skip
                grant_membership(
                    session, None, user, Role(role), school=school, school_class=school_class
                )
        except (OrgError, PasswordPolicyError) as exc:
            raise Refused(str(exc)) from None
    click.echo(f"user {username.strip().lower()} created with role {role}")


@group.command("reset-mfa")
@click.argument("username")
def reset_mfa(username: str) -> None:
    """Remove USERNAME's second factor (lost phone); they enrol again at the next sign-in."""
    from ..cli import Refused, app_context  # circle: wellbeing.cli imports this file (group)

    with app_context() as ctx, ctx.db.session() as session:
        user = find_user(session, username)
        if user is None:
            raise Refused(f"no user {username}")
        admin_reset_mfa(session, None, user)
    click.echo(f"two-factor authentication removed for {user.username}; all sessions ended")
