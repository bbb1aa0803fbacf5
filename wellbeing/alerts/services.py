"""Raising alerts, the escalation scan, acknowledging and resolving.

An alert goes to the first rung of its ladder (the psychology teachers of the student's school;
for break-glass, the district's supervisors) in the in-app inbox and by email through the
outbox. :func:`escalation_scan` climbs the ladder for open alerts nobody acknowledged in time:
psychology teacher → school leader → district counsellor on duty (all district counsellors when
nobody is on duty); past the top rung it widens to every district counsellor and keeps
reminding everyone on the ladder until someone acknowledges. Emails carry no names or scores.

The ladder itself (policy, rungs, climbing one alert) is in :mod:`.ladder`, the email text and
notifying a rung in :mod:`.notify`, the scan (every due alert at once, one email per person per
run) in :mod:`.escalation`; their public names are re-exported here.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit.events import BREAK_GLASS_STARTED, BreakGlassStarted
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission, Principal, can
from ..core.events import CRITICAL_RESPONSE, CriticalResponse
from ..core.rawsql import chunks
from ..db import utcnow
from ..orgs.models import School
from ..risk.events import TIER_CHANGED, TierChanged
from ..students.events import STUDENT_TRANSFERRED, StudentTransferred
from ..students.models import Student
from ..students.transfer import reading_school
from . import leaving as leaving  # its STUDENT_LEFT subscription
from . import links
from .bulk import on_critical_responses, on_tier_changed_many
from .common import CRISIS_KINDS, AlertError, AlertNotFound, IllegalTransition, alert_dedupe_key
from .common import visible_student_names as visible_student_names
from .common import visible_students as visible_students
from .district import district_alert_ids, is_district_alert
from .escalation import CHUNK, escalate_due
from .events import ALERT_RAISED, AlertRaised
from .ladder import BREAK_GLASS_LADDER as BREAK_GLASS_LADDER
from .ladder import BREAK_GLASS_RESPONSE_MINUTES as BREAK_GLASS_RESPONSE_MINUTES
from .ladder import DEFAULT_LADDER as DEFAULT_LADDER
from .ladder import DEFAULT_RESPONSE_MINUTES as DEFAULT_RESPONSE_MINUTES
from .ladder import KIND_DEFAULT_TIER as KIND_DEFAULT_TIER
from .ladder import MAX_REMIND_MINUTES as MAX_REMIND_MINUTES
from .ladder import MIN_REMIND_MINUTES as MIN_REMIND_MINUTES
from .ladder import Ladder as Ladder
from .ladder import climb_rung
from .ladder import ladder_for as ladder_for
from .ladder import rung_users as rung_users
from .models import ALERT_STATES, KINDS, Alert, AlertInbox, AlertState
from .notify import alert_settings, i18n_context
from .notify import alert_url as alert_url
from .notify import email_text as email_text
from .notify import using_settings as using_settings

# --------------------------------------------------------------------------- raising


def _dedupe_existing(
    session: Session, kind: str, source_id: uuid.UUID | None, student_id: uuid.UUID | None
) -> Alert | None:
    stmt = select(Alert).where(Alert.kind == kind, Alert.state != AlertState.RESOLVED)
    if source_id is not None:
        stmt = stmt.where(Alert.source_id == source_id)
    elif student_id is not None:
        stmt = stmt.where(Alert.source_id.is_(None), Alert.student_id == student_id)
    else:
        return None
    return session.scalars(stmt.limit(1)).first()


# One event often arrives by two paths (an urgent concern raises the tier to red; a critical
# screening item does too): while a crisis alert about a student is still unacknowledged, another
# crisis alert about the same student is the same call for help, not a second one.
def _open_crisis(session: Session, kind: str, student_id: uuid.UUID | None) -> Alert | None:
    if kind not in CRISIS_KINDS or student_id is None:
        return None
    return session.scalars(
        select(Alert)
        .where(
            Alert.student_id == student_id,
            Alert.kind.in_(CRISIS_KINDS),
            Alert.state == AlertState.OPEN,
        )
        .limit(1)
    ).first()


def raise_alert(
    session: Session,
    *,
    kind: str,
    school_id: uuid.UUID | None,
    student_id: uuid.UUID | None = None,
    source_id: uuid.UUID | None = None,
    tier: int | None = None,
    due_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Alert:
    """Raise an alert (or return the unresolved one for the same ``(kind, source_id)``; without a
    source, the same ``(kind, student_id)``; for crisis kinds, the student's unacknowledged crisis
    alert), notify the first rung and emit ``ALERT_RAISED``."""
    if kind not in KINDS:
        raise AlertError("unknown alert kind %(kind)r", kind=kind)
    existing = _dedupe_existing(session, kind, source_id, student_id) or _open_crisis(
        session, kind, student_id
    )
    if existing is not None:
        return existing
    if school_id is None and student_id is not None:
        student = session.get(Student, student_id)
        school_id = student.school_id if student is not None else None
    school = session.get(School, school_id) if school_id is not None else None
    if school is None:
        raise AlertError("an alert needs the school it concerns")
    now = now or utcnow()
    alert = Alert(
        kind=kind, district_id=school.district_id, school_id=school.id, student_id=student_id,
        source_id=source_id, tier=tier, state=AlertState.OPEN, raised_at=now, rung=0,
        dedupe_key=alert_dedupe_key(kind, source_id, student_id),
    )  # fmt: skip
    ladder = ladder_for(session, alert)
    alert.due_at = due_at or now + dt.timedelta(minutes=ladder.response_minutes)
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:  # pragma: no cover - only under a concurrent raise
        existing = _dedupe_existing(session, kind, source_id, student_id)
        if existing is not None:
            return existing
        raise
    with i18n_context(alert_settings()):
        climb_rung(session, alert, ladder, 0, now, "raise")
    session.flush()
    ALERT_RAISED.emit(session, AlertRaised(alert))
    return alert


# --------------------------------------------------------------------------- the scan


def escalation_scan(
    session: Session, now: dt.datetime, *, chunk: int = CHUNK, limit: int | None = None
) -> int:
    """Climb the ladder for every open alert whose next rung is due (all of them unless
    ``limit`` says otherwise), ``chunk`` at a time; returns the number of steps recorded. Reads
    only due rows (index on ``(state, next_step_at)``); on PostgreSQL they are locked ``FOR
    UPDATE SKIP LOCKED``, so two schedulers never climb the same alert. One email per person
    per run (a digest for several alerts): see :mod:`.escalation`."""
    with i18n_context(alert_settings()):
        return escalate_due(session, now, chunk=chunk, limit=limit)


# --------------------------------------------------------------------------- handling


def is_recipient(session: Session, user_id: uuid.UUID, alert_id: uuid.UUID) -> bool:
    return (
        session.scalar(
            select(AlertInbox.id).where(
                AlertInbox.alert_id == alert_id, AlertInbox.user_id == user_id
            )
        )
        is not None
    )


class _HandleTarget:
    """An alert as the policy sees it: the school and student it concerns, and (read only when
    a counsellor's scope asks) whether it is the district centre's, by the queue's definition
    (:func:`.district.is_district_alert`). The alert row itself has no ``district_involved``,
    so the policy's "district staff see students only once escalated or referred" used to
    pass every alert of the district. ``district_ids`` (a list of alerts asked at once):
    the district centre's among them, read in one query the first time one is asked."""

    class_id = None  # alerts concern a school; class-scoped memberships get no student access

    def __init__(
        self,
        session: Session,
        alert: Alert,
        district_ids: Callable[[], Collection[uuid.UUID]] | None = None,
    ) -> None:
        self._session, self._alert, self._district_ids = session, alert, district_ids
        self.school_id, self.student_id = alert.school_id, alert.student_id

    @functools.cached_property
    def district_involved(self) -> bool:
        if self._district_ids is not None:
            return self._alert.id in self._district_ids()
        return is_district_alert(self._session, self._alert)


def may_handle(session: Session, principal: Principal | None, alert: Alert) -> bool:
    """Recipients on any rung, and people whose scope covers the alert: the school's staff;
    for the district centre, alerts escalated to the district or about district-involved
    students (the district queue). Break-glass alerts are only their supervisors'."""
    if principal is None:
        return False
    if is_recipient(session, principal.user_id, alert.id):
        return True
    if alert.kind == "break_glass":
        return False
    return can(principal, Permission.ALERTS_HANDLE, _HandleTarget(session, alert))


def may_handle_many(
    session: Session, principal: Principal | None, alerts: Sequence[Alert]
) -> set[uuid.UUID]:
    """The ids of the alerts :func:`may_handle` allows, in two queries at most whatever their
    number (a page that lists many alerts)."""
    if principal is None or not alerts:
        return set()
    ids = sorted({alert.id for alert in alerts})
    received: set[uuid.UUID] = set()
    for part in chunks(ids):
        received.update(session.scalars(select(AlertInbox.alert_id).where(
            AlertInbox.user_id == principal.user_id, AlertInbox.alert_id.in_(part)
        )))  # fmt: skip

    @functools.cache
    def district_ids() -> set[uuid.UUID]:
        return district_alert_ids(session, [a for a in alerts if a.id not in received])

    return {
        alert.id
        for alert in alerts
        if alert.id in received
        or (
            alert.kind != "break_glass"
            and can(
                principal, Permission.ALERTS_HANDLE, _HandleTarget(session, alert, district_ids)
            )
        )
    }


def get_alert(session: Session, principal: Principal | None, alert_id: uuid.UUID) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise AlertNotFound(_l("No such alert."))
    if not may_handle(session, principal, alert):
        raise Forbidden(Permission.ALERTS_HANDLE, alert)
    return alert


def may_read_note(session: Session, principal: Principal | None, alert: Alert) -> bool:
    """The resolution note: the people who handle the student's case (for alerts without a
    student, or break-glass alerts, whoever may handle the alert)."""
    if principal is None:
        return False
    if principal.user_id in {alert.resolved_by_id, alert.acknowledged_by_id}:
        return True
    if alert.student_id is None or alert.kind == "break_glass":
        return may_handle(session, principal, alert)

    student = session.get(Student, alert.student_id)
    return (
        student is not None
        and can(principal, Permission.RECORD_READ, student)
        and reading_school(principal, student) in (None, alert.school_id)
    )


def _close_inbox(session: Session, alert: Alert) -> None:
    session.execute(update(AlertInbox).where(AlertInbox.alert_id == alert.id).values(is_open=False))


def acknowledge(
    session: Session, principal: Principal, alert_id: uuid.UUID, *, now: dt.datetime | None = None
) -> Alert:
    """open → acknowledged: the climb stops; the items linked to the alert are acknowledged
    too (:func:`acknowledge_event` says which)."""
    return acknowledge_event(session, principal, alert_id, now=now).alert


@dataclass(frozen=True)
class Acknowledgement:
    """What acknowledging an alert did: the alert, and in words each linked item it moved
    (the crisis's first step, the concern marked seen)."""

    alert: Alert
    done: list[object]

    def message(self) -> str:
        """The confirmation, built from what was done (in the reader's language)."""
        text = _("Alert acknowledged. The escalation has stopped.")
        for part in map(str, self.done):  # no space after a full-width full stop
            text += part if text.endswith("。") else " " + part
        return text


def acknowledge_event(
    session: Session, principal: Principal, alert_id: uuid.UUID, *, now: dt.datetime | None = None
) -> Acknowledgement:
    """Acknowledge the alert and what it is linked to, in this transaction, each audited."""
    alert = get_alert(session, principal, alert_id)
    try:
        ALERT_STATES.move(alert, AlertState.ACKNOWLEDGED)
    except IllegalTransition:
        raise IllegalTransition(_l("This alert was already acknowledged.")) from None
    now = now or utcnow()
    alert.acknowledged_by_id = principal.user_id
    alert.acknowledged_at = now
    alert.next_step_at = None
    _close_inbox(session, alert)
    minutes = int((now - alert.raised_at).total_seconds() // 60)
    audit.record(
        session, AuditAction.ALERT_ACK, object_type="alert", object_id=alert.id,
        student_id=alert.student_id, school_id=alert.school_id,
        detail={"kind": alert.kind, "rung": alert.rung, "minutes": minutes, "in_time": now <= alert.due_at},
    )  # fmt: skip
    session.flush()
    return Acknowledgement(alert, links.acknowledged(session, principal, alert, now))


def resolve(
    session: Session,
    principal: Principal,
    alert_id: uuid.UUID,
    note: str,
    *,
    now: dt.datetime | None = None,
) -> Alert:
    """acknowledged → resolved, with a written (encrypted) note."""
    alert = get_alert(session, principal, alert_id)
    if not ALERT_STATES.allowed(alert.state, AlertState.RESOLVED):
        if alert.state == AlertState.OPEN:
            raise IllegalTransition(_l("Acknowledge the alert before resolving it."))
        raise IllegalTransition(_l("This alert is already resolved."))
    if not (note or "").strip():
        raise AlertError(_l("A resolution note is required."))
    ALERT_STATES.move(alert, AlertState.RESOLVED)
    alert.resolved_by_id = principal.user_id
    alert.resolved_at = now or utcnow()
    alert.resolution_note = note.strip()
    alert.next_step_at = None
    alert.dedupe_key = None
    _close_inbox(session, alert)
    audit.record(
        session, AuditAction.ALERT_RESOLVE, object_type="alert", object_id=alert.id,
        student_id=alert.student_id, school_id=alert.school_id, fields=["resolution_note"],
        detail={"kind": alert.kind},
    )  # fmt: skip
    session.flush()
    return alert


def event_items(
    session: Session, principal: Principal, alert_id: uuid.UUID | None, *, exclude: uuid.UUID
) -> list[links.LinkedItem]:
    """What a crisis or a concern page shows of its event: the alert (for people who may
    handle it) and the other items linked to it that the viewer may open."""
    alert = session.get(Alert, alert_id) if alert_id is not None else None
    if alert is None:
        return []
    own = [links.alert_item(alert)] if may_handle(session, principal, alert) else []
    return own + links.linked_items(session, principal, alert, exclude=exclude)


# --------------------------------------------------------------------------- subscriptions


def _on_tier_changed(session: Session, change: TierChanged) -> None:
    if change.to_tier >= 3 and (change.from_tier or 0) < 3:
        raise_alert(
            session, kind="red_tier", school_id=change.school_id, student_id=change.student_id,
            source_id=change.decision_id, tier=3,
        )  # fmt: skip


def _on_critical_response(session: Session, item: CriticalResponse) -> None:
    raise_alert(
        session, kind="critical_item", school_id=item.school_id, student_id=item.student_id,
        source_id=item.response_id, tier=3,
    )  # fmt: skip


def _on_break_glass(session: Session, grant: BreakGlassStarted) -> None:
    student = session.get(Student, grant.student_id)
    raise_alert(
        session, kind="break_glass", school_id=student.school_id if student else None,
        student_id=grant.student_id, source_id=grant.grant_id,
    )  # fmt: skip


def _on_transferred(session: Session, moved: StudentTransferred) -> None:
    """The receiving school's psychology teachers take the case over: one alert per transfer,
    on the ladder of the student's tier (a green student's on the yellow one)."""
    student = session.get_one(Student, moved.student_id)
    raise_alert(
        session, kind="student_transferred_in", school_id=moved.new_school_id,
        student_id=student.id, source_id=moved.transfer_id, tier=student.tier or None,
    )  # fmt: skip


TIER_CHANGED.subscribe(_on_tier_changed, many=on_tier_changed_many)
STUDENT_TRANSFERRED.subscribe(_on_transferred)
CRITICAL_RESPONSE.subscribe(_on_critical_response, many=on_critical_responses)
BREAK_GLASS_STARTED.subscribe(_on_break_glass)
