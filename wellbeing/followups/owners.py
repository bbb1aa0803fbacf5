"""Who owns a new follow-up when nobody is named: used by the services and the bulk scan."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import Membership, User
from ..core.authz import Role


def default_owner_id(session: Session, school_id: uuid.UUID) -> uuid.UUID | None:
    """The school's psych teacher (oldest membership, active account), else its school leader."""
    for role in (Role.PSYCH_TEACHER, Role.SCHOOL_LEADER):
        owner = session.scalar(
            select(Membership.user_id)
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.school_id == school_id,
                Membership.role == str(role),
                User.active.is_(True),
            )
            .order_by(Membership.created_at, Membership.id)
            .limit(1)
        )
        if owner is not None:
            return owner
    return None
