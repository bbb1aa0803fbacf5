"""The escalation ladder: response time and rungs from the district policy, the people on each
rung, and climbing it (notify a rung, pass rungs with nobody on them, remind past the top).

``climb_rung`` climbs ONE alert (``raise_alert``); the escalation scan (:mod:`.escalation`) climbs
and reminds every due alert at once and must give each the rows climbing it alone gives
(tests/alerts/test_escalation.py compares it with a one-alert reference, alert by alert)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit.models import BreakGlass
from ..auth.models import Membership, User
from ..core.authz import Role
from ..risk.policy import current_policy
from .models import Alert
from .notify import notify_user

# --------------------------------------------------------------------------- the ladder

# Defaults (DESIGN.md §3) when the district policy says nothing for a tier.
DEFAULT_RESPONSE_MINUTES = {1: 7 * 24 * 60, 2: 72 * 60, 3: 60}
DEFAULT_LADDER: dict[int, tuple[tuple[str, int], ...]] = {
    1: (("psych_teacher", 0), ("school_leader", 7 * 24 * 60)),
    2: (("psych_teacher", 0), ("school_leader", 24 * 60), ("counsellor", 72 * 60)),
    3: (("psych_teacher", 0), ("school_leader", 60), ("counsellor", 120)),
}
# The tier an alert is handled at when the caller gives none.
KIND_DEFAULT_TIER = {
    "red_tier": 3, "critical_item": 3, "urgent_concern": 3, "first_response_overdue": 2,
    "followup_overdue": 2, "referral_sla": 2, "break_glass": 3, "plan_review_overdue": 2,
    "plan_proposal_overdue": 2, "student_transferred_in": 1,
}  # fmt: skip
BREAK_GLASS_LADDER = (("supervisor", 0),)
BREAK_GLASS_RESPONSE_MINUTES = 24 * 60
MAX_REMIND_MINUTES = 24 * 60
MIN_REMIND_MINUTES = 30


@dataclass(frozen=True)
class Ladder:
    response_minutes: int
    rungs: tuple[tuple[str, int], ...]  # (role, minutes after raising)

    @property
    def remind_minutes(self) -> int:
        return max(MIN_REMIND_MINUTES, min(self.response_minutes, MAX_REMIND_MINUTES))


def _role_of(name: str) -> str:
    name = str(name).lower()
    if "counsel" in name or "district" in name or "centre" in name or "center" in name:
        return Role.COUNSELLOR.value
    if "leader" in name:
        return Role.SCHOOL_LEADER.value
    if "supervis" in name:
        return Role.SUPERVISOR.value
    return Role.PSYCH_TEACHER.value


def _lookup(mapping: Any, tier: int) -> Any:
    if mapping is None:
        return None
    if isinstance(mapping, Mapping):
        return mapping.get(tier, mapping.get(str(tier)))
    if callable(mapping):
        return mapping(tier)
    if isinstance(mapping, list | tuple) and 0 <= tier < len(mapping):
        return mapping[tier]
    return None


def policy_ladder(session: Session, district_id: uuid.UUID, tier: int) -> Ladder:
    """Read response time and ladder from ``wellbeing.risk.policy.current_policy``; fall back to
    the DESIGN.md defaults for anything the policy does not say."""
    response = DEFAULT_RESPONSE_MINUTES[tier]
    rungs = DEFAULT_LADDER[tier]
    policy = current_policy(session, district_id)
    hours = None
    for name in ("first_response_hours", "response_hours"):
        hours = _lookup(getattr(policy, name, None), tier)
        if hours is not None:
            break
    if hours:
        response = max(1, round(float(hours) * 60))
    raw = None
    for name in ("escalation_ladder", "ladder", "escalation"):
        raw = _lookup(getattr(policy, name, None), tier)
        if raw is not None:
            break
    if raw:
        parsed = []
        for item in raw:
            role, minutes = (
                (item["role"], item["after_minutes"]) if isinstance(item, dict) else item
            )
            parsed.append((_role_of(role), int(minutes)))
        parsed.sort(key=lambda rm: rm[1])
        if not parsed or parsed[0][1] > 0 or parsed[0][0] != Role.PSYCH_TEACHER.value:
            parsed.insert(0, (Role.PSYCH_TEACHER.value, 0))
        rungs = tuple(parsed)
    return Ladder(response, rungs)


def ladder_for(session: Session, alert: Alert) -> Ladder:
    if alert.kind == "break_glass":
        return Ladder(BREAK_GLASS_RESPONSE_MINUTES, BREAK_GLASS_LADDER)
    tier = min(3, max(1, alert.tier if alert.tier is not None else KIND_DEFAULT_TIER[alert.kind]))
    return policy_ladder(session, alert.district_id, tier)


# --------------------------------------------------------------------------- who is on a rung


def role_members(session: Session, alert: Alert, role: str, *, on_duty: bool = False) -> list[User]:
    stmt = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(User.active.is_(True), Membership.role == role)
    )
    if role in {Role.PSYCH_TEACHER, Role.SCHOOL_LEADER}:
        stmt = stmt.where(Membership.school_id == alert.school_id, Membership.class_id.is_(None))
    else:
        stmt = stmt.where(Membership.district_id == alert.district_id)
    if on_duty:
        stmt = stmt.where(User.on_duty.is_(True))
    users = {u.id: u for u in session.scalars(stmt.order_by(User.username))}
    return list(users.values())


def rung_users(session: Session, alert: Alert, role: str) -> list[User]:
    """The people on one rung: a counsellor rung means the counsellor(s) on duty, or every
    district counsellor when nobody is on duty."""
    if role == Role.COUNSELLOR:
        users = role_members(session, alert, role, on_duty=True) or role_members(
            session, alert, role
        )
    else:
        users = role_members(session, alert, role)
    excluded = _excluded_user(session, alert)
    return [u for u in users if u.id != excluded]


def _excluded_user(session: Session, alert: Alert) -> uuid.UUID | None:
    """A break-glass alert never goes to the person who broke the glass."""
    if alert.kind != "break_glass" or alert.source_id is None:
        return None

    grant = session.get(BreakGlass, alert.source_id)
    return grant.user_id if grant is not None else None


# --------------------------------------------------------------------------- climbing


def climb_rung(
    session: Session, alert: Alert, ladder: Ladder, rung: int, now: dt.datetime, step: str
) -> int:
    """Notify ``rung``; rungs with nobody on them are recorded and passed at once. Returns the
    number of steps recorded."""
    steps = 0
    while True:
        role = ladder.rungs[rung][0]
        users = rung_users(session, alert, role)
        if not users and rung == len(ladder.rungs) - 1 and role != Role.COUNSELLOR:
            excluded = _excluded_user(session, alert)  # the top must reach someone else
            users = [u for u in role_members(session, alert, Role.COUNSELLOR) if u.id != excluded]
        notify_user(session, alert, users, rung=rung, role=role, step=step, now=now)
        steps += 1
        alert.rung = rung
        if users or rung == len(ladder.rungs) - 1:
            break
        rung, step = rung + 1, "escalate"
    alert.next_step_at = next_step_time(alert, ladder, now)
    return steps


def next_step_time(alert: Alert, ladder: Ladder, now: dt.datetime) -> dt.datetime:
    if alert.rung + 1 < len(ladder.rungs):
        return alert.raised_at + dt.timedelta(minutes=ladder.rungs[alert.rung + 1][1])
    top_at = alert.raised_at + dt.timedelta(minutes=ladder.rungs[-1][1])
    return max(now, top_at) + dt.timedelta(minutes=ladder.remind_minutes)
