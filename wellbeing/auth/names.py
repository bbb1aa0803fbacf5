"""People's display names by user id, for pages and notices that name who did what."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import User


def user_names(session: Session, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(
        session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).tuples().all()
    )
