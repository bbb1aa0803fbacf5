"""The one-alert reminder past the top rung, as the escalation scan did it before it worked in
bulk: the reference ``tests/alerts/test_escalation.py`` compares the bulk scan with."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from wellbeing.alerts.ladder import Ladder, role_members, rung_users
from wellbeing.alerts.models import Alert, AlertInbox
from wellbeing.alerts.notify import notify_user
from wellbeing.auth.models import User
from wellbeing.core.authz import Role


def _remind(session: Session, alert: Alert, ladder: Ladder, now: dt.datetime) -> int:
    """Past the top rung: widen to every district counsellor (once, when the ladder reaches the
    district), and remind everyone on the ladder so far, until someone acknowledges."""
    already = set(
        session.scalars(select(AlertInbox.user_id).where(AlertInbox.alert_id == alert.id))
    )
    users: dict[uuid.UUID, User] = {}
    if alert.kind == "break_glass":
        role = Role.SUPERVISOR.value
        for user in rung_users(session, alert, role):
            users[user.id] = user
    else:
        role = ladder.rungs[-1][0]
        if role == Role.COUNSELLOR:  # a ladder that reaches the district widens to all of it
            for user in role_members(session, alert, role):
                users[user.id] = user
    if already:
        for user in session.scalars(
            select(User).where(User.id.in_(already), User.active.is_(True))
        ):
            users.setdefault(user.id, user)
    step = "widen" if set(users) - already else "remind"
    notify_user(
        session, alert, list(users.values()), rung=alert.rung, role=role, step=step, now=now
    )
    alert.reminders += 1
    alert.next_step_at = now + dt.timedelta(minutes=ladder.remind_minutes)
    return 1
