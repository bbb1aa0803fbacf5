"""Creating users and granting memberships (admin screens and the CLI share these)."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..core import audit
from ..core.authz import SCHOOL_ROLES, Permission, Principal, Role, ensure
from ..orgs.models import School, SchoolClass
from ..orgs.services import OrgError, default_district
from .models import Membership, User
from .services import check_password_policy, hash_password, revoke_all_sessions

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
        raise OrgError("username must be 2-64 lowercase letters, digits, '.', '_' or '-'")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise OrgError(f"user {username} already exists")
    email = (email or "").strip() or None
    if email is not None and (len(email) > 200 or not EMAIL_RE.match(email)):
        raise OrgError("not a valid e-mail address")
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
        raise OrgError(f"role {role} needs a school")
    if role == Role.CLASS_TEACHER and school_class is None:
        raise OrgError("a class teacher needs a class")
    if role not in SCHOOL_ROLES and school is not None:
        raise OrgError(f"role {role} works for the district, not one school")
    if school_class is not None and school is not None and school_class.school_id != school.id:
        raise OrgError("that class belongs to another school")
    if role != Role.CLASS_TEACHER and school_class is not None:
        raise OrgError(f"role {role} works for a whole school, not one class")
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
        raise OrgError("the user already has this role here")
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
        raise OrgError("you cannot remove your own administrator role")
    session.delete(membership)
    revoke_all_sessions(session, membership.user_id)
    audit.record(session, audit.AuditAction.MEMBERSHIP_REVOKE, object_type="membership",
                 object_id=membership.id, school_id=membership.school_id,
                 detail={"user": str(membership.user_id), "role": membership.role})  # fmt: skip


def set_active(session: Session, actor: Principal, user: User, active: bool) -> None:
    """Disabling ends every session of the user on the server at once."""
    ensure(actor, Permission.USERS_MANAGE)
    if user.id == actor.user_id and not active:
        raise OrgError("you cannot disable your own account")
    if user.active == active:
        return
    user.active = active
    if not active:
        revoke_all_sessions(session, user.id)
    audit.record(session, audit.AuditAction.USER_DISABLE if not active else audit.AuditAction.USER_UPDATE,
                 object_type="user", object_id=user.id, fields=["active"],
                 detail={"active": active})  # fmt: skip
