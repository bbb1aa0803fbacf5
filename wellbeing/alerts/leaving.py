"""The alerts of a student who leaves the school: for good (``STUDENT_LEFT``) or for another
school of the district (``STUDENT_TRANSFERRED``).

**Left or graduated.** The record is sealed: nobody at the school handles the student any more,
so every unresolved alert about the student is resolved by the system (no person:
``resolved_by_id`` empty) with the note "The student left the school on <date>." (or
"graduated on"), written in the district's language since it is stored, not shown per reader.
The state machine is walked as a person would: open → acknowledged → resolved (an open alert
stays without ``acknowledged_at``: nobody acknowledged it, and the SLA figures must not count
it as answered). The climb stops, the inboxes close, each alert is audited
(``ALERT_RESOLVE``, ``reason: student_left``). Break-glass alerts are left open: they ask the
supervisors to look at a person's access to the record, which leaving does not answer.

**Transferred.** An unresolved alert raised at the school the student left moves to the new
school (``Alert.school_id``), so that the new school's ladder handles it: the escalation scan
climbs the new school's rungs from now on, and an alert nobody acknowledged yet is raised again
to the new school's first rung (its psychology teachers, on the inbox and by email, one
``raise`` step), then climbs the new school's rungs on the alert's original times (a rung whose
time has passed is reached at the next scan). The sending school's staff are taken off it (their
inbox rows close: they keep reading the record for the read period, not handling its alerts);
district staff on the ladder stay on it. Audited as
``ALERT_ESCALATE`` (``step: transfer``, both schools). The ``student_transferred_in`` alert
(``services``) is already at the new school and untouched; break-glass alerts stay where they
are (their ladder is the district's supervisors, whatever the school).

Imported by ``alerts/services.py`` so the subscriptions are in place with the services.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..auth.models import Membership
from ..core import audit
from ..core.audit import AuditAction
from ..db import utcnow
from ..students.events import STUDENT_LEFT, STUDENT_TRANSFERRED, StudentLeft, StudentTransferred
from ..students.models import StudentStatus
from .ladder import climb_rung, ladder_for
from .models import ALERT_STATES, UNRESOLVED, Alert, AlertInbox, AlertState
from .notify import alert_settings, i18n_context

# Kinds a leaving or a transfer leaves alone (see the module docstring).
KEPT_KINDS = ("break_glass",)
TRANSFER_KEPT_KINDS = (*KEPT_KINDS, "student_transferred_in")


def _unresolved(session: Session, student_id: object, *kept: str) -> list[Alert]:
    return list(
        session.scalars(
            select(Alert)
            .where(
                Alert.student_id == student_id,
                Alert.state.in_(UNRESOLVED),
                Alert.kind.not_in(kept),
            )
            .order_by(Alert.raised_at, Alert.id)
        )
    )


def leaving_note(status: str, on: dt.date) -> str:
    """The resolution note, in the district's language (stored: every reader sees this text)."""
    settings = alert_settings()
    with i18n_context(settings), force_locale(settings.locale):
        if status == StudentStatus.GRADUATED:
            return _("The student graduated on %(date)s.", date=on.isoformat())
        return _("The student left the school on %(date)s.", date=on.isoformat())


def resolve_for_leaving(
    session: Session, left: StudentLeft, *, now: dt.datetime | None = None
) -> list[Alert]:
    """Resolve the student's unresolved alerts (but break-glass ones) as the system; returns
    them (the leavers page counts them)."""
    alerts = _unresolved(session, left.student_id, *KEPT_KINDS)
    if not alerts:
        return []
    now = now or utcnow()
    note = leaving_note(left.status, left.left_on)
    for alert in alerts:
        was = alert.state
        if alert.state == AlertState.OPEN:
            ALERT_STATES.move(alert, AlertState.ACKNOWLEDGED)
        ALERT_STATES.move(alert, AlertState.RESOLVED)
        alert.resolved_by_id, alert.resolved_at = None, now
        alert.resolution_note = note
        alert.next_step_at, alert.dedupe_key = None, None
        audit.record(
            session, AuditAction.ALERT_RESOLVE, object_type="alert", object_id=alert.id,
            student_id=alert.student_id, school_id=alert.school_id, fields=["resolution_note"],
            detail={"kind": alert.kind, "from_state": was, "reason": "student_left"},
        )  # fmt: skip
    session.execute(
        update(AlertInbox)
        .where(AlertInbox.alert_id.in_([a.id for a in alerts]))
        .values(is_open=False)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return alerts


def on_student_left(session: Session, left: StudentLeft) -> None:
    left.closed["alerts"] += len(resolve_for_leaving(session, left))


def move_to_new_school(
    session: Session, moved: StudentTransferred, *, now: dt.datetime | None = None
) -> list[Alert]:
    """Hand the sending school's unresolved alerts about the student to the new school's
    ladder (see the module docstring); returns them."""
    alerts = [
        a for a in _unresolved(session, moved.student_id, *TRANSFER_KEPT_KINDS)
        if a.school_id == moved.old_school_id
    ]  # fmt: skip
    if not alerts:
        return []
    now = now or utcnow()
    old_staff = select(Membership.user_id).where(Membership.school_id == moved.old_school_id)
    new_staff = select(Membership.user_id).where(Membership.school_id == moved.new_school_id)
    session.execute(
        update(AlertInbox)
        .where(
            AlertInbox.alert_id.in_([a.id for a in alerts]),
            AlertInbox.user_id.in_(old_staff),
            AlertInbox.user_id.not_in(new_staff),
        )
        .values(is_open=False)
        .execution_options(synchronize_session=False)
    )
    for alert in alerts:
        alert.school_id = moved.new_school_id
        if alert.state == AlertState.OPEN:
            with i18n_context(alert_settings()):
                climb_rung(session, alert, ladder_for(session, alert), 0, now, "raise")
        audit.record(
            session, AuditAction.ALERT_ESCALATE, object_type="alert", object_id=alert.id,
            student_id=alert.student_id, school_id=moved.new_school_id,
            detail={"kind": alert.kind, "step": "transfer", "from_school": moved.old_school_id,
                    "to_school": moved.new_school_id, "state": alert.state},
        )  # fmt: skip
    session.flush()
    return alerts


def on_student_transferred(session: Session, moved: StudentTransferred) -> None:
    move_to_new_school(session, moved)


STUDENT_LEFT.subscribe(on_student_left)
STUDENT_TRANSFERRED.subscribe(on_student_transferred)
