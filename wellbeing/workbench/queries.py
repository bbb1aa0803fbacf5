"""Read-only queries behind the workbench: for each thing that needs someone today, one COUNT
(each on an index named in its docstring) and the first few rows.

Scopes are the ones the module's own list uses (the inbox is the user's, school lists the
principal's schools, the district queue the centre's districts), so a count never promises
more than the page it links to shows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..alerts.models import Alert, AlertInbox
from ..auth.models import Membership, User
from ..concerns.models import Concern, ConcernState
from ..core.audit import AuditAction, Outcome
from ..core.audit_models import AuditEntry, BreakGlass
from ..core.authz import MFA_REQUIRED_ROLES
from ..crisis.models import Crisis, CrisisState
from ..followups.models import ACTIVE_STATES, FollowUp
from ..risk.models import PENDING, TierDecision
from ..students.models import Student

FIRST_ROWS = 5
T = TypeVar("T")
_NOBODY = uuid.UUID(int=0)  # an IN () that matches nothing, without an empty IN list


def _ids(ids: Collection[uuid.UUID]) -> list[uuid.UUID]:
    return sorted(ids, key=str) or [_NOBODY]


@dataclass(frozen=True)
class Counted(Generic[T]):
    count: int
    rows: list[T]


# --------------------------------------------------------------------------- alerts, crises


def inbox_open(session: Session, user_id: uuid.UUID) -> Counted[Alert]:
    """Alerts in the user's inbox nobody has acknowledged yet (``ix_alert_inbox_user_open``),
    the first ones by response due time."""
    where = (AlertInbox.user_id == user_id, AlertInbox.is_open.is_(True))
    count = session.scalar(select(func.count()).select_from(AlertInbox).where(*where)) or 0
    rows = session.scalars(
        select(Alert).join(AlertInbox, AlertInbox.alert_id == Alert.id).where(*where)
        .order_by(Alert.due_at, Alert.id).limit(FIRST_ROWS)
    ).all()  # fmt: skip
    return Counted(count, list(rows))


def open_crises(session: Session, school_ids: Collection[uuid.UUID]) -> Counted[Crisis]:
    """Open crises of the schools (``ix_crisis_state_school_opened``), oldest first."""
    where = (Crisis.state == CrisisState.OPEN, Crisis.school_id.in_(_ids(school_ids)))
    count = session.scalar(select(func.count()).select_from(Crisis).where(*where)) or 0
    rows = session.scalars(
        select(Crisis).where(*where).order_by(Crisis.opened_at).limit(FIRST_ROWS)
    ).all()
    return Counted(count, list(rows))


# --------------------------------------------------------------------------- tiers


def provisional_students(session: Session, school_ids: Collection[uuid.UUID]) -> Counted[Student]:
    """Students whose tier is provisional (raised by a rule, by screening or a concern),
    waiting for a person to confirm or change it, the highest tier first
    (``ix_student_status_school_grade_tier``: active students of the schools; the flag is read
    on those rows)."""
    where = (
        Student.status == "active",
        Student.school_id.in_(_ids(school_ids)),
        Student.tier_provisional.is_(True),
    )
    count = session.scalar(select(func.count()).select_from(Student).where(*where)) or 0
    rows = session.scalars(
        select(Student).where(*where).order_by(Student.tier.desc(), Student.updated_at)
        .limit(FIRST_ROWS)
    ).all()  # fmt: skip
    return Counted(count, list(rows))


def pending_stepdown_count(
    session: Session, leader_school_ids: Collection[uuid.UUID], district_involved: bool
) -> int:
    """Step-downs from red waiting for a second person (``ix_tier_decision_state_school``):
    the leader's schools, and for counsellors the students involved with the district."""
    conditions = []
    if leader_school_ids:
        conditions.append(TierDecision.school_id.in_(_ids(leader_school_ids)))
    if district_involved:
        conditions.append(Student.district_involved.is_(True))
    if not conditions:
        return 0
    return (
        session.scalar(
            select(func.count()).select_from(TierDecision)
            .join(Student, Student.id == TierDecision.student_id)
            .where(TierDecision.state == PENDING, or_(*conditions))
        )
        or 0
    )  # fmt: skip


# --------------------------------------------------------------------------- concerns


def new_concerns(session: Session, school_ids: Collection[uuid.UUID]) -> Counted[Concern]:
    """Concerns nobody has looked at yet (``ix_concern_school_state_created``), newest first."""
    where = (Concern.school_id.in_(_ids(school_ids)), Concern.state == ConcernState.NEW)
    count = session.scalar(select(func.count()).select_from(Concern).where(*where)) or 0
    rows = session.scalars(
        select(Concern).where(*where).order_by(Concern.created_at.desc()).limit(FIRST_ROWS)
    ).all()
    return Counted(count, list(rows))


def own_reports(session: Session, reporter_id: uuid.UUID) -> Counted[Concern]:
    """The reporter's concerns not yet acted on (``ix_concern_reporter_created``: one
    reporter's rows), the newest first."""
    where = (Concern.reporter_id == reporter_id, Concern.state != ConcernState.ACTED)
    count = session.scalar(select(func.count()).select_from(Concern).where(*where)) or 0
    rows = session.scalars(
        select(Concern).where(*where).order_by(Concern.created_at.desc()).limit(FIRST_ROWS)
    ).all()
    return Counted(count, list(rows))


# --------------------------------------------------------------------------- follow-ups


def followups_due(
    session: Session, owner_id: uuid.UUID, end_of_today: dt.datetime
) -> Counted[FollowUp]:
    """The owner's follow-ups due today or overdue (``ix_followup_owner_state_due``)."""
    where = (
        FollowUp.owner_id == owner_id,
        FollowUp.state.in_(ACTIVE_STATES),
        FollowUp.due_at < end_of_today,
    )
    count = session.scalar(select(func.count()).select_from(FollowUp).where(*where)) or 0
    rows = session.scalars(
        select(FollowUp).where(*where).order_by(FollowUp.due_at).limit(FIRST_ROWS)
    ).all()
    return Counted(count, list(rows))


# --------------------------------------------------------------------------- supervisors


def break_glass_waiting(session: Session, reviewer_id: uuid.UUID) -> Counted[BreakGlass]:
    """Grants waiting for review, not the reviewer's own (``ix_break_glass_review``)."""
    where = (BreakGlass.reviewed_at.is_(None), BreakGlass.user_id != reviewer_id)
    count = session.scalar(select(func.count()).select_from(BreakGlass).where(*where)) or 0
    rows = session.scalars(
        select(BreakGlass).where(*where).order_by(BreakGlass.started_at).limit(FIRST_ROWS)
    ).all()
    return Counted(count, list(rows))


def denied_since(session: Session, since: dt.datetime) -> int:
    """Refused accesses since ``since`` (``ix_audit_entry_outcome_time``)."""
    return (
        session.scalar(
            select(func.count()).select_from(AuditEntry)
            .where(AuditEntry.outcome == Outcome.DENIED, AuditEntry.occurred_at >= since)
        )
        or 0
    )  # fmt: skip


# --------------------------------------------------------------------------- administrators


def roster_imports(session: Session, since: dt.datetime) -> Counted[AuditEntry]:
    """Roster imports since ``since``, newest first (``ix_audit_entry_action_time``)."""
    where = (AuditEntry.action == AuditAction.ROSTER_IMPORT, AuditEntry.occurred_at >= since)
    count = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    rows = session.scalars(
        select(AuditEntry).where(*where).order_by(AuditEntry.occurred_at.desc()).limit(FIRST_ROWS)
    ).all()
    return Counted(count, list(rows))


@dataclass(frozen=True)
class AccountIssue:
    user: User
    reason: str  # "must_change_password" | "no_second_factor"


def accounts_needing_action(session: Session) -> Counted[AccountIssue]:
    """Active accounts an administrator should follow up: a temporary password not yet
    changed, or a role that requires a second factor without one. The account table is small
    (staff, not students): one COUNT over it, no index needed."""
    needs_mfa = (
        select(Membership.id)
        .where(Membership.user_id == User.id, Membership.role.in_(sorted(MFA_REQUIRED_ROLES)))
        .exists()
    )
    must_change = User.password_must_change.is_(True)
    no_mfa = User.totp_enabled.is_(False) & needs_mfa
    where = (User.active.is_(True), or_(must_change, no_mfa))
    count = session.scalar(select(func.count()).select_from(User).where(*where)) or 0
    rows = session.execute(
        select(User, must_change.label("must_change")).where(*where)
        .order_by(User.created_at.desc()).limit(FIRST_ROWS)
    ).all()  # fmt: skip
    issues = [
        AccountIssue(user, "must_change_password" if flag else "no_second_factor")
        for user, flag in rows
    ]
    return Counted(count, issues)


def students_by_id(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Student]:
    if not ids:
        return {}
    return {s.id: s for s in session.scalars(select(Student).where(Student.id.in_(list(ids))))}


def display_names(session: Session, ids: Collection[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return dict(
        session.execute(select(User.id, User.display_name).where(User.id.in_(wanted))).tuples()
    )
