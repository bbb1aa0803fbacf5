"""Creating users and granting memberships (admin screens and the CLI share these)."""

from __future__ import annotations

import re
import secrets
import uuid

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..core import audit
from ..core.authz import SCHOOL_ROLES, Permission, Principal, Role, ensure
from ..db import utcnow
from ..labels import role_label
from ..orgs.models import School, SchoolClass
from ..orgs.services import OrgError, default_district
from .models import Membership, User
from .services import check_password_policy, hash_password, revoke_all_sessions

# Temporary passwords: no 0/O, 1/l/I; groups of four, letters and digits (the password policy).
_TEMP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,100}@[^@\s]+\.[^@\s]+$")


def create_user(
    session: Session,
    actor: Principal | None,
    settings: Settings,
    *,
    username: str,
    password: str,
    display_name: str | None = None,
    email: str | None = None,
    locale: str | None = None,
) -> User:
    if actor is not None:
        ensure(actor, Permission.USERS_MANAGE)
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise OrgError(_l("username must be 2-64 lowercase letters, digits, '.', '_' or '-'"))
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise OrgError(_l("user %(username)s already exists"), username=username)
    email = (email or "").strip() or None
    if email is not None and (len(email) > 200 or not EMAIL_RE.match(email)):
        raise OrgError(_l("not a valid e-mail address"))
    check_password_policy(password)
    user = User(
        username=username,
        display_name=(display_name or username).strip()[:100],
        email=email,
        password_hash=hash_password(settings, password),
        locale=locale or settings.locale,
    )
    session.add(user)
    session.flush()
    audit.record(session, audit.AuditAction.USER_CREATE, object_type="user", object_id=user.id,
                 fields=["username", "display_name", "email", "password"])  # fmt: skip
    return user


def grant_membership(
    session: Session,
    actor: Principal | None,
    user: User,
    role: Role,
    *,
    school: School | None = None,
    school_class: SchoolClass | None = None,
    partner_id: uuid.UUID | None = None,
) -> Membership:
    if actor is not None:
        ensure(actor, Permission.USERS_MANAGE)
    if school_class is not None and school is None:
        school = session.get(School, school_class.school_id)
    if role in SCHOOL_ROLES and school is None:
        raise OrgError(_l("%(role)s: choose a school"), role=role_label(role))
    if role == Role.CLASS_TEACHER and school_class is None:
        raise OrgError(_l("a class teacher needs a class"))
    if role not in SCHOOL_ROLES and school is not None:
        raise OrgError(_l("%(role)s works for the district, not one school"), role=role_label(role))
    if school_class is not None and school is not None and school_class.school_id != school.id:
        raise OrgError(_l("that class belongs to another school"))
    if role != Role.CLASS_TEACHER and school_class is not None:
        raise OrgError(
            _l("%(role)s works for a whole school, not one class"), role=role_label(role)
        )
    district_id = school.district_id if school else default_district(session).id
    duplicate = session.scalar(
        select(Membership.id).where(
            Membership.user_id == user.id,
            Membership.role == str(role),
            Membership.school_id.is_(None) if school is None else Membership.school_id == school.id,
            Membership.class_id.is_(None)
            if school_class is None
            else Membership.class_id == school_class.id,
        )
    )
    if duplicate is not None:
        raise OrgError(_l("the user already has this role here"))
    membership = Membership(
        user_id=user.id,
        role=str(role),
        district_id=district_id,
        school_id=school.id if school else None,
        class_id=school_class.id if school_class else None,
        partner_id=partner_id,
    )
    session.add(membership)
    session.flush()
    session.refresh(user, ["memberships"])
    audit.record(session, audit.AuditAction.MEMBERSHIP_GRANT, object_type="membership",
                 object_id=membership.id, school_id=membership.school_id,
                 detail={"user": str(user.id), "role": str(role)})  # fmt: skip
    return membership


def revoke_membership(session: Session, actor: Principal, membership: Membership) -> None:
    """Revoking ends the user's sessions, so the narrower access applies at once."""
    ensure(actor, Permission.USERS_MANAGE)
    if membership.user_id == actor.user_id and membership.role == Role.ADMIN:
        raise OrgError(_l("you cannot remove your own administrator role"))
    session.delete(membership)
    revoke_all_sessions(session, membership.user_id)
    audit.record(session, audit.AuditAction.MEMBERSHIP_REVOKE, object_type="membership",
                 object_id=membership.id, school_id=membership.school_id,
                 detail={"user": str(membership.user_id), "role": membership.role})  # fmt: skip


def set_active(session: Session, actor: Principal, user: User, active: bool) -> None:
    """Disabling ends every session of the user on the server at once."""
    ensure(actor, Permission.USERS_MANAGE)
    if user.id == actor.user_id and not active:
        raise OrgError(_l("you cannot disable your own account"))
    if user.active == active:
        return
    user.active = active
    if not active:
        revoke_all_sessions(session, user.id)
    audit.record(session, audit.AuditAction.USER_DISABLE if not active else audit.AuditAction.USER_UPDATE,
                 object_type="user", object_id=user.id, fields=["active"],
                 detail={"active": active})  # fmt: skip


def temporary_password() -> str:
    """A random password for the administrator to pass on (``abcd-2efg-h3jk``)."""
    while True:
        raw = "".join(secrets.choice(_TEMP_ALPHABET) for _ in range(12))
        if any(ch.isdigit() for ch in raw) and any(ch.isalpha() for ch in raw):
            return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def admin_reset_password(
    session: Session, actor: Principal, settings: Settings, user: User
) -> tuple[str, int]:
    """An administrator gives ``user`` a temporary password (after re-authenticating, in the
    view): the user must change it right after the next sign-in, and every session of the user
    ends now. Returns the temporary password (shown once to the administrator) and how many
    sessions ended. The second factor is left alone: an administrator who resets a password
    cannot also sign in as the user."""
    ensure(actor, Permission.USERS_MANAGE)
    if user.id == actor.user_id:
        raise OrgError(_l("Change your own password on your account page."))
    password = temporary_password()
    user.password_hash = hash_password(settings, password)
    user.password_changed_at = utcnow()
    user.password_must_change = True
    ended = revoke_all_sessions(session, user.id)
    audit.record(session, audit.AuditAction.PASSWORD_RESET, object_type="user", object_id=user.id,
                 fields=["password"], detail={"by": "admin", "sessions_ended": ended,
                                              "must_change": True})  # fmt: skip
    return password, ended
