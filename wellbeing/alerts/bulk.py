"""Raising many alerts at once: the bulk form of the ``TIER_CHANGED`` (red_tier) and
``CRITICAL_RESPONSE`` (critical_item) subscriptions, used by screening imports.

Each alert gets the rows :func:`~wellbeing.alerts.services.raise_alert` would write (the
Alert, an AlertStep per rung climbed, AlertInbox and AlertRecipient rows per person, due time,
rung and next step), deduplicated the same way (an unresolved alert for the same
``(kind, source)``; a student's open crisis alert absorbs further crisis kinds, also within the
batch). The ladder, the people on its rungs and the climb are computed once per school and tier,
and rows are written with one executemany per table. Two deliberate differences:

* email: ONE email per recipient per batch, which every email AlertRecipient row of the batch
  points at: the alert's own email when the batch brought them one alert, else a digest ("N
  students at your school need attention" and a link to the alerts inbox; no names, no scores),
  instead of one email per alert;
* audit: one ``alert_batch`` entry per (school, kind) with the counts, the steps and the
  recipients' ids, instead of one entry per alert and step.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..config import SUPPORTED_LOCALES
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Role
from ..core.events import CriticalResponse
from ..core.rawsql import chunks, insert_rows
from ..db import table_of, utcnow
from ..notify.services import translations
from ..orgs.models import School
from ..risk.events import TierChanged
from .common import CRISIS_KINDS, AlertError, alert_dedupe_key
from .events import ALERT_RAISED, AlertRaised
from .ladder import Ladder, next_step_time, policy_ladder, role_members, rung_users
from .models import Alert, AlertInbox, AlertRecipient, AlertState, AlertStep
from .notify import alert_settings, email_text, queue_user_email


@dataclass(frozen=True)
class AlertRequest:
    """One alert to raise (what ``raise_alert`` takes, with a source always given)."""

    kind: str
    school_id: uuid.UUID
    student_id: uuid.UUID
    source_id: uuid.UUID
    tier: int


@dataclass
class _Plan:
    """The climb shared by every alert of one school and tier: ``steps`` are
    ``(rung, role, step, users)``, people only on the last one (empty rungs are passed)."""

    district_id: uuid.UUID
    ladder: Ladder
    steps: list[tuple[int, str, str, list[User]]]
    due_at: dt.datetime
    next_step_at: dt.datetime

    @property
    def rung(self) -> int:
        return self.steps[-1][0]

    @property
    def users(self) -> list[User]:
        return self.steps[-1][3]


@dataclass
class _Rows:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    inbox: list[dict[str, Any]] = field(default_factory=list)
    recipients: list[dict[str, Any]] = field(default_factory=list)
    # (alert, kind, step, rung, role, user) for each person with an email address
    notified: list[tuple[uuid.UUID, str, uuid.UUID, int, str, User]] = field(default_factory=list)
    # (school, kind, tier) -> the (alert, student) of the batch
    batches: dict[tuple[uuid.UUID, str, int], list[tuple[uuid.UUID, uuid.UUID]]] = field(
        default_factory=dict
    )


# --------------------------------------------------------------------------- the subscriptions


def on_tier_changed_many(session: Session, changes: Sequence[TierChanged]) -> None:
    """``red_tier`` for every change that makes a student red."""
    raise_many(session, [
        AlertRequest("red_tier", d.school_id, d.student_id, d.decision_id, 3)
        for d in changes if d.to_tier >= 3 and (d.from_tier or 0) < 3
    ])  # fmt: skip


def on_critical_responses(session: Session, items: Sequence[CriticalResponse]) -> None:
    raise_many(session, [
        AlertRequest("critical_item", c.school_id, c.student_id, c.response_id, 3) for c in items
    ])  # fmt: skip


# --------------------------------------------------------------------------- raising


def raise_many(
    session: Session, requests: Sequence[AlertRequest], *, now: dt.datetime | None = None
) -> list[uuid.UUID]:
    """Raise the alerts of ``requests`` that are not duplicates; returns the new alerts' ids."""
    if any(r.kind == "break_glass" for r in requests):
        raise AlertError("break-glass alerts are raised one at a time")
    session.flush()
    fresh = _fresh(session, requests)
    if not fresh:
        return []
    now = now or utcnow()
    districts = _districts(session, {r.school_id for r in fresh})
    plans: dict[tuple[uuid.UUID, int], _Plan] = {}
    rows = _Rows()
    for request in fresh:
        tier = min(3, max(1, request.tier))
        key = (request.school_id, tier)
        if key not in plans:
            if request.school_id not in districts:
                raise AlertError("an alert needs the school it concerns")
            plans[key] = _plan(session, request.school_id, districts[request.school_id], tier, now)
        _add(rows, request, plans[key], now)
    outbox = _digests(session, rows.notified)
    for alert_id, _kind, step_id, rung, _role, user in rows.notified:
        if outbox.get(user.id) is not None:
            rows.recipients.append(recipient_row(alert_id, step_id, user.id, rung, "email", now, outbox[user.id]))  # fmt: skip
    _write(session, rows)
    _audit(session, rows.batches, plans)
    ids = [row["id"] for row in rows.alerts]
    _announce(session, ids)
    return ids


def _fresh(session: Session, requests: Sequence[AlertRequest]) -> list[AlertRequest]:
    """The requests that ``raise_alert`` would not answer with an existing alert."""
    keys = [alert_dedupe_key(r.kind, r.source_id, r.student_id) or "" for r in requests]
    taken: set[str] = set()
    for part in chunks(sorted(set(keys))):
        taken.update(session.scalars(select(Alert.dedupe_key).where(Alert.dedupe_key.in_(part))))
    crisis_students = sorted({r.student_id for r in requests if r.kind in CRISIS_KINDS})
    in_crisis: set[uuid.UUID] = set()
    for ids in chunks(crisis_students):
        in_crisis.update(session.scalars(
            select(Alert.student_id).where(
                Alert.student_id.in_(ids), Alert.kind.in_(CRISIS_KINDS),
                Alert.state == AlertState.OPEN,
            )
        ))  # fmt: skip
    fresh = []
    for request, key in zip(requests, keys, strict=True):
        crisis = request.kind in CRISIS_KINDS
        if key in taken or (crisis and request.student_id in in_crisis):
            continue
        taken.add(key)
        if crisis:
            in_crisis.add(request.student_id)
        fresh.append(request)
    return fresh


def _districts(session: Session, school_ids: set[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    rows = session.execute(select(School.id, School.district_id).where(School.id.in_(school_ids)))
    return {school_id: district_id for school_id, district_id in rows}


def _plan(
    session: Session, school_id: uuid.UUID, district_id: uuid.UUID, tier: int, now: dt.datetime
) -> _Plan:
    """Climb as ``ladder.climb_rung`` does from rung 0: pass rungs with nobody on them; the top
    rung reaches the district's counsellors when nobody holds its role."""
    ladder = policy_ladder(session, district_id, tier)
    scope = SimpleNamespace(
        kind="red_tier", school_id=school_id, district_id=district_id, source_id=None
    )
    steps: list[tuple[int, str, str, list[User]]] = []
    rung, step, top = 0, "raise", len(ladder.rungs) - 1
    while True:
        role = ladder.rungs[rung][0]
        users = rung_users(session, scope, role)  # type: ignore[arg-type]  # a namespace with the alert's scope fields stands in (no row yet)
        if not users and rung == top and role != Role.COUNSELLOR:
            users = role_members(session, scope, Role.COUNSELLOR)  # type: ignore[arg-type]  # a namespace with the alert's scope fields stands in (no row yet)
        steps.append((rung, role, step, users))
        if users or rung == top:
            break
        rung, step = rung + 1, "escalate"
    at = SimpleNamespace(raised_at=now, rung=rung)
    return _Plan(
        district_id=district_id, ladder=ladder, steps=steps,
        due_at=now + dt.timedelta(minutes=ladder.response_minutes),
        next_step_at=next_step_time(at, ladder, now),  # type: ignore[arg-type]  # raised_at+rung only
    )  # fmt: skip


def _add(rows: _Rows, request: AlertRequest, plan: _Plan, now: dt.datetime) -> None:
    alert_id = uuid.uuid4()
    rows.alerts.append({
        "id": alert_id, "kind": request.kind, "district_id": plan.district_id,
        "school_id": request.school_id, "student_id": request.student_id,
        "source_id": request.source_id, "tier": request.tier, "state": AlertState.OPEN,
        "dedupe_key": alert_dedupe_key(request.kind, request.source_id, request.student_id),
        "raised_at": now, "due_at": plan.due_at, "rung": plan.rung,
        "next_step_at": plan.next_step_at, "reminders": 0, "created_at": now,
    })  # fmt: skip
    for rung, role, step, users in plan.steps:
        step_id = uuid.uuid4()
        rows.steps.append({
            "id": step_id, "alert_id": alert_id, "rung": rung, "role": role, "step": step,
            "at": now, "recipient_count": len(users),
        })  # fmt: skip
        for user in users:
            rows.inbox.append({
                "id": uuid.uuid4(), "alert_id": alert_id, "user_id": user.id, "is_open": True,
                "added_at": now,
            })  # fmt: skip
            rows.recipients.append(recipient_row(alert_id, step_id, user.id, rung, "inbox", now))
            if user.email:
                rows.notified.append((alert_id, request.kind, step_id, rung, role, user))
    batch = (request.school_id, request.kind, min(3, max(1, request.tier)))
    rows.batches.setdefault(batch, []).append((alert_id, request.student_id))


def recipient_row(
    alert_id: uuid.UUID, step_id: uuid.UUID, user_id: uuid.UUID, rung: int, channel: str,
    now: dt.datetime, outbox_id: uuid.UUID | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": uuid.uuid4(), "alert_id": alert_id, "step_id": step_id, "user_id": user_id,
        "rung": rung, "channel": channel, "notified_at": now, "outbox_id": outbox_id,
    }  # fmt: skip


def _write(session: Session, rows: _Rows) -> None:
    """One executemany (COPY on PostgreSQL) per table, parents first for the foreign keys."""
    for model, values in (
        (Alert, rows.alerts), (AlertStep, rows.steps), (AlertInbox, rows.inbox),
        (AlertRecipient, rows.recipients),
    ):  # fmt: skip
        insert_rows(session, table_of(model), values)


# --------------------------------------------------------------------------- email, audit, event


def _digests(
    session: Session, notified: Sequence[tuple[uuid.UUID, str, uuid.UUID, int, str, User]]
) -> dict[uuid.UUID, uuid.UUID | None]:
    """One email per recipient (see :func:`person_email`); returns the outbox id per person."""
    mails: dict[uuid.UUID, list[tuple[uuid.UUID, str, str]]] = {}
    users: dict[uuid.UUID, User] = {}
    for alert_id, kind, _step, _rung, role, user in notified:
        mails.setdefault(user.id, []).append((alert_id, kind, role))
        users[user.id] = user
    return {
        user_id: queue_user_email(session, users[user_id], *person_email(users[user_id], alerts))
        for user_id, alerts in mails.items()
    }


def person_email(user: User, mails: Sequence[tuple[uuid.UUID, str, str]]) -> tuple[str, str]:
    """Subject and body of the one email a person gets for ``mails`` (``(alert id, kind, role
    on the ladder)``) of one batch or scan run: the alert's own email (a link to it) when there
    is one alert, else a digest (how many, a link to the inbox). No names, no scores."""
    alerts = {alert_id: kind for alert_id, kind, _role in mails}
    if len(alerts) == 1:
        alert_id, kind, role = mails[0]
        stand_in = SimpleNamespace(id=alert_id, kind=kind)  # email_text reads id and kind only
        return email_text(stand_in, role, user.locale)  # type: ignore[arg-type]  # see stand_in
    glass = sum(kind == "break_glass" for kind in alerts.values())
    variant = "break_glass" if glass == len(alerts) else "mixed" if glass else "students"
    district = any(role in {Role.COUNSELLOR, Role.SUPERVISOR} for _a, _k, role in mails)
    return digest_text(user.locale, len(alerts), district=district, variant=variant)


def digest_text(
    locale: str | None, count: int, *, district: bool = False, variant: str = "students"
) -> tuple[str, str]:
    """Subject and body in the recipient's locale: a count and a link, no names, no scores.
    ``variant``: ``students`` (the district wording when ``district``), ``break_glass`` (every
    alert a break-glass access), ``mixed`` (both)."""
    settings = alert_settings()
    locale = locale if locale in SUPPORTED_LOCALES else settings.locale
    ngettext = translations(locale).ngettext
    url = f"{settings.base_url.rstrip('/')}/alerts"
    if variant == "break_glass":
        subject = ngettext(
            "%(num)d break-glass access needs review",
            "%(num)d break-glass accesses need review",
            count,
        )
        body = ngettext(
            "%(num)d break-glass access to a student record needs review. Your alerts: %(url)s",
            "%(num)d break-glass accesses to student records need review. Your alerts: %(url)s",
            count,
        )
    elif variant == "mixed":
        subject = ngettext("%(num)d alert needs attention", "%(num)d alerts need attention", count)
        body = ngettext(
            "%(num)d alert needs your attention. Your alerts: %(url)s",
            "%(num)d alerts need your attention. Your alerts: %(url)s",
            count,
        )
    else:
        subject = ngettext(
            "%(num)d student needs attention", "%(num)d students need attention", count
        )
        body = _students_body(ngettext, count, district)
    return subject % {"num": count}, body % {"num": count, "url": url}


def _students_body(ngettext: Any, count: int, district: bool) -> str:
    if district:
        return str(ngettext(
            "%(num)d student at schools of your district needs attention. Your alerts: %(url)s",
            "%(num)d students at schools of your district need attention. Your alerts: %(url)s",
            count,
        ))  # fmt: skip
    return str(ngettext(
        "%(num)d student at your school needs attention. Your alerts: %(url)s",
        "%(num)d students at your school need attention. Your alerts: %(url)s",
        count,
    ))  # fmt: skip


def _audit(
    session: Session,
    batches: dict[tuple[uuid.UUID, str, int], list[tuple[uuid.UUID, uuid.UUID]]],
    plans: dict[tuple[uuid.UUID, int], _Plan],
) -> None:
    """One ``alert_batch`` entry per (school, kind, tier); for one alert, the entries raising
    it alone records (one per step, naming the alert and the student)."""
    for (school_id, kind, tier), alerts in batches.items():
        plan = plans[(school_id, tier)]
        steps = [
            {"rung": rung, "role": role, "step": step, "recipients": [u.id for u in users]}
            for rung, role, step, users in plan.steps
        ]
        if len(alerts) == 1:
            alert_id, student_id = alerts[0]
            for step in steps:
                action = (
                    AuditAction.ALERT_CREATE
                    if step["step"] == "raise"
                    else AuditAction.ALERT_ESCALATE
                )
                audit.record(
                    session, action, object_type="alert", object_id=alert_id,
                    student_id=student_id, school_id=school_id, detail={"kind": kind, **step},
                )  # fmt: skip
            continue
        audit.record(
            session, AuditAction.ALERT_CREATE, object_type="alert_batch", school_id=school_id,
            detail={"kind": kind, "tier": tier, "alerts": len(alerts), "rung": plan.rung, "steps": steps},
        )  # fmt: skip


def _announce(session: Session, ids: list[uuid.UUID]) -> None:
    """``ALERT_RAISED`` for the new alerts, one ``emit_many`` per chunk (a subscriber's bulk
    form gets the chunk, a per-item one each alert), only when somebody listens (it loads
    every alert)."""
    if not ALERT_RAISED.has_subscribers():
        return
    for part in chunks(ids):
        alerts = {a.id: a for a in session.scalars(select(Alert).where(Alert.id.in_(part)))}
        ALERT_RAISED.emit_many(session, [AlertRaised(alerts[alert_id]) for alert_id in part])
