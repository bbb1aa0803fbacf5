"""Raising alerts, the escalation ladder, acknowledging and resolving.

An alert goes to the first rung of its ladder (the psychology teachers of the student's school;
for break-glass, the district's supervisors) in the in-app inbox and by email through the
outbox. :func:`escalation_scan` climbs the ladder for open alerts nobody acknowledged in time:
psychology teacher → school leader → district counsellor on duty (all district counsellors when
nobody is on duty); past the top rung it widens to every district counsellor and keeps
reminding everyone on the ladder until someone acknowledges. Emails carry no names or scores.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, has_app_context
from flask_babel import Babel, force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..auth.models import Membership, User
from ..config import SUPPORTED_LOCALES, Settings
from ..core import audit, events
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission, Principal, Role, can
from ..db import utcnow
from ..orgs.models import School
from .models import KINDS, Alert, AlertInbox, AlertRecipient, AlertStep


class AlertError(Exception):
    """A refused alert operation (the message is safe to show)."""


class AlertNotFound(AlertError):
    pass


class IllegalTransition(AlertError):
    pass


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
    "followup_overdue": 2, "referral_sla": 2, "break_glass": 3,
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


def _policy_ladder(session: Session, district_id: uuid.UUID, tier: int) -> Ladder:
    """Read response time and ladder from ``wellbeing.risk.policy.current_policy``; fall back to
    the DESIGN.md defaults for anything the policy does not say (or while risk is absent)."""
    response = DEFAULT_RESPONSE_MINUTES[tier]
    rungs = DEFAULT_LADDER[tier]
    try:
        from ..risk.policy import current_policy
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("wellbeing.risk"):
            raise
        return Ladder(response, rungs)
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
    return _policy_ladder(session, alert.district_id, tier)


# --------------------------------------------------------------------------- who is on a rung


def _members(session: Session, alert: Alert, role: str, *, on_duty: bool = False) -> list[User]:
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
        users = _members(session, alert, role, on_duty=True) or _members(session, alert, role)
    else:
        users = _members(session, alert, role)
    excluded = _excluded_user(session, alert)
    return [u for u in users if u.id != excluded]


def _excluded_user(session: Session, alert: Alert) -> uuid.UUID | None:
    """A break-glass alert never goes to the person who broke the glass."""
    if alert.kind != "break_glass" or alert.source_id is None:
        return None
    from ..audit.models import BreakGlass

    grant = session.get(BreakGlass, alert.source_id)
    return grant.user_id if grant is not None else None


# --------------------------------------------------------------------------- email text

_settings_var: contextvars.ContextVar[Settings | None] = contextvars.ContextVar(
    "wellbeing_alerts_settings", default=None
)


@contextlib.contextmanager
def using_settings(settings: Settings) -> Iterator[None]:
    """Outside requests (jobs, simulations): the settings used for links and locales."""
    token = _settings_var.set(settings)
    try:
        with _i18n_context(settings):
            yield
    finally:
        _settings_var.reset(token)


def _settings() -> Settings:
    chosen = _settings_var.get()
    if chosen is not None:
        return chosen
    if has_app_context() and "wellbeing.settings" in current_app.extensions:
        return current_app.extensions["wellbeing.settings"]
    return Settings()


@functools.cache
def _mail_app(locale: str, timezone: str) -> Flask:
    """A bare app that only carries translations, for emails written outside requests."""
    from .. import PACKAGE_DIR

    app = Flask("wellbeing.alerts.mail")
    app.config.update(
        BABEL_DEFAULT_LOCALE=locale,
        BABEL_DEFAULT_TIMEZONE=timezone,
        BABEL_TRANSLATION_DIRECTORIES=str(PACKAGE_DIR / "translations"),
    )
    Babel(app)
    return app


@contextlib.contextmanager
def _i18n_context(settings: Settings) -> Iterator[None]:
    if has_app_context():
        yield
        return
    with _mail_app(settings.locale, settings.timezone).app_context():
        yield


def alert_url(alert: Alert) -> str:
    return f"{_settings().base_url.rstrip('/')}/alerts/{alert.id}"


def email_text(alert: Alert, role: str, locale: str) -> tuple[str, str]:
    """Subject and body in the recipient's locale: a link, never a name or a score."""
    settings = _settings()
    locale = locale if locale in SUPPORTED_LOCALES else settings.locale
    if alert.kind == "break_glass":
        variant = "break_glass"
    elif role in {Role.COUNSELLOR, Role.SUPERVISOR}:
        variant = "district"
    else:
        variant = "school"
    with _i18n_context(settings):
        subject, body = _email_templates(variant, locale)
    return subject, body % {"url": alert_url(alert)}


@functools.lru_cache(maxsize=64)
def _email_templates(variant: str, locale: str) -> tuple[str, str]:
    """Translated once per process and locale: ``force_locale`` reloads catalogs, which made
    every recipient of every alert cost milliseconds."""
    with force_locale(locale):
        if variant == "break_glass":
            subject = _("Break-glass access needs review")
            body = _("A break-glass access to a student record was started and needs review: %(url)s")
        elif variant == "district":
            subject = _("A student needs attention")
            body = _("A student at a school of your district needs attention: %(url)s")
        else:
            subject = _("A student needs attention")
            body = _("A student at your school needs attention: %(url)s")
    return str(subject), str(body)


def _queue_email(session: Session, user: User, subject: str, body: str) -> uuid.UUID | None:
    if not user.email:
        return None
    try:
        from ..notify.services import queue_email
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("wellbeing.notify"):
            raise
        return None
    message = queue_email(session, user=user, subject=subject, body=body, kind="alert")
    return getattr(message, "id", None)


# --------------------------------------------------------------------------- notifying a rung


def _notify(
    session: Session,
    alert: Alert,
    users: Sequence[User],
    *,
    rung: int,
    role: str,
    step: str,
    now: dt.datetime,
) -> AlertStep:
    """Record a step, put the alert in each person's inbox and queue their email."""
    row = AlertStep(
        alert_id=alert.id, rung=rung, role=role, step=step, at=now, recipient_count=len(users)
    )
    session.add(row)
    in_inbox = set(
        session.scalars(select(AlertInbox.user_id).where(AlertInbox.alert_id == alert.id))
    )
    for user in users:
        if user.id not in in_inbox:
            session.add(
                AlertInbox(
                    alert_id=alert.id, user_id=user.id, is_open=alert.state == "open", added_at=now
                )
            )
            in_inbox.add(user.id)
        session.add(
            AlertRecipient(
                alert_id=alert.id,
                step_id=row.id,
                user_id=user.id,
                rung=rung,
                channel="inbox",
                notified_at=now,
            )
        )
        subject, body = email_text(alert, role, user.locale)
        outbox_id = _queue_email(session, user, subject, body)
        if user.email and outbox_id is not None:
            session.add(
                AlertRecipient(
                    alert_id=alert.id, step_id=row.id, user_id=user.id, rung=rung, channel="email",
                    notified_at=now, outbox_id=outbox_id,
                )
            )  # fmt: skip
    audit.record(
        session,
        AuditAction.ALERT_CREATE if step == "raise" else AuditAction.ALERT_ESCALATE,
        object_type="alert",
        object_id=alert.id,
        student_id=alert.student_id,
        school_id=alert.school_id,
        detail={
            "kind": alert.kind, "step": step, "rung": rung, "role": role,
            "recipients": [u.id for u in users],
        },
    )  # fmt: skip
    return row


def _climb(
    session: Session, alert: Alert, ladder: Ladder, rung: int, now: dt.datetime, step: str
) -> int:
    """Notify ``rung``; rungs with nobody on them are recorded and passed at once. Returns the
    number of steps recorded."""
    steps = 0
    while True:
        role = ladder.rungs[rung][0]
        users = rung_users(session, alert, role)
        if not users and rung == len(ladder.rungs) - 1 and role != Role.COUNSELLOR:
            users = _members(session, alert, Role.COUNSELLOR)  # the top must reach someone
        _notify(session, alert, users, rung=rung, role=role, step=step, now=now)
        steps += 1
        alert.rung = rung
        if users or rung == len(ladder.rungs) - 1:
            break
        rung, step = rung + 1, "escalate"
    alert.next_step_at = _next_step_time(alert, ladder, now)
    return steps


def _next_step_time(alert: Alert, ladder: Ladder, now: dt.datetime) -> dt.datetime:
    if alert.rung + 1 < len(ladder.rungs):
        return alert.raised_at + dt.timedelta(minutes=ladder.rungs[alert.rung + 1][1])
    top_at = alert.raised_at + dt.timedelta(minutes=ladder.rungs[-1][1])
    return max(now, top_at) + dt.timedelta(minutes=ladder.remind_minutes)


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
            for user in _members(session, alert, role):
                users[user.id] = user
    if already:
        for user in session.scalars(
            select(User).where(User.id.in_(already), User.active.is_(True))
        ):
            users.setdefault(user.id, user)
    step = "widen" if set(users) - already else "remind"
    _notify(session, alert, list(users.values()), rung=alert.rung, role=role, step=step, now=now)
    alert.reminders += 1
    alert.next_step_at = now + dt.timedelta(minutes=ladder.remind_minutes)
    return 1


# --------------------------------------------------------------------------- raising


def _dedupe_existing(
    session: Session, kind: str, source_id: uuid.UUID | None, student_id: uuid.UUID | None
) -> Alert | None:
    stmt = select(Alert).where(Alert.kind == kind, Alert.state != "resolved")
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
CRISIS_KINDS = frozenset({"red_tier", "critical_item", "urgent_concern"})


def _open_crisis(session: Session, kind: str, student_id: uuid.UUID | None) -> Alert | None:
    if kind not in CRISIS_KINDS or student_id is None:
        return None
    return session.scalars(
        select(Alert)
        .where(Alert.student_id == student_id, Alert.kind.in_(CRISIS_KINDS), Alert.state == "open")
        .limit(1)
    ).first()


def _dedupe_key(kind: str, source_id: uuid.UUID | None, student_id: uuid.UUID | None) -> str | None:
    if source_id is not None:
        return f"{kind}:{source_id}"
    return f"{kind}:student:{student_id}" if student_id is not None else None


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
        raise AlertError(f"unknown alert kind {kind!r}")
    existing = _dedupe_existing(session, kind, source_id, student_id) or _open_crisis(
        session, kind, student_id
    )
    if existing is not None:
        return existing
    if school_id is None and student_id is not None:
        from ..students.models import Student

        student = session.get(Student, student_id)
        school_id = student.school_id if student is not None else None
    school = session.get(School, school_id) if school_id is not None else None
    if school is None:
        raise AlertError("an alert needs the school it concerns")
    now = now or utcnow()
    alert = Alert(
        kind=kind, district_id=school.district_id, school_id=school.id, student_id=student_id,
        source_id=source_id, tier=tier, state="open", raised_at=now, rung=0,
        dedupe_key=_dedupe_key(kind, source_id, student_id),
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
    with _i18n_context(_settings()):
        _climb(session, alert, ladder, 0, now, "raise")
    session.flush()
    events.emit(events.ALERT_RAISED, session, alert)
    return alert


# --------------------------------------------------------------------------- the scan


def escalation_scan(session: Session, now: dt.datetime, *, limit: int = 1000) -> int:
    """Climb the ladder for every open alert whose next rung is due; returns the number of steps
    recorded. Reads only due rows (index on ``(state, next_step_at)``)."""
    stmt = (
        select(Alert)
        .where(Alert.state == "open", Alert.next_step_at.is_not(None), Alert.next_step_at <= now)
        .order_by(Alert.next_step_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    steps = 0
    with _i18n_context(_settings()):
        for alert in session.scalars(stmt).all():
            ladder = ladder_for(session, alert)
            while (
                alert.state == "open"
                and alert.next_step_at is not None
                and alert.next_step_at <= now
            ):
                if alert.rung + 1 < len(ladder.rungs):
                    steps += _climb(session, alert, ladder, alert.rung + 1, now, "escalate")
                else:
                    steps += _remind(session, alert, ladder, now)
    session.flush()
    return steps


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


def may_handle(session: Session, principal: Principal | None, alert: Alert) -> bool:
    """Recipients on any rung, and people whose scope covers the alert (not for break-glass
    alerts, which only their supervisors handle)."""
    if principal is None:
        return False
    if is_recipient(session, principal.user_id, alert.id):
        return True
    return alert.kind != "break_glass" and can(principal, Permission.ALERTS_HANDLE, alert)


def get_alert(session: Session, principal: Principal | None, alert_id: uuid.UUID) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise AlertNotFound("no such alert")
    if not may_handle(session, principal, alert):
        raise Forbidden(Permission.ALERTS_HANDLE, alert)
    return alert


def visible_student_names(
    session: Session, principal: Principal | None, alerts: Sequence[Alert]
) -> dict[uuid.UUID, str]:
    """Student names by alert id, only for people with case access to that student (least data:
    the others see kind, school, tier, due time and state)."""
    from ..students.models import Student

    ids = {a.student_id for a in alerts if a.student_id is not None and a.kind != "break_glass"}
    if not ids or principal is None:
        return {}
    students = {s.id: s for s in session.scalars(select(Student).where(Student.id.in_(ids)))}
    names: dict[uuid.UUID, str] = {}
    for alert in alerts:
        student = students.get(alert.student_id) if alert.student_id else None
        if (
            student is not None
            and alert.kind != "break_glass"
            and can(principal, Permission.RECORD_READ, student)
        ):
            names[alert.id] = student.name
    return names


def may_read_note(session: Session, principal: Principal | None, alert: Alert) -> bool:
    """The resolution note: the people who handle the student's case (for alerts without a
    student, or break-glass alerts, whoever may handle the alert)."""
    if principal is None:
        return False
    if principal.user_id in {alert.resolved_by_id, alert.acknowledged_by_id}:
        return True
    if alert.student_id is None or alert.kind == "break_glass":
        return may_handle(session, principal, alert)
    from ..students.models import Student

    student = session.get(Student, alert.student_id)
    return student is not None and can(principal, Permission.RECORD_READ, student)


def _close_inbox(session: Session, alert: Alert) -> None:
    session.execute(update(AlertInbox).where(AlertInbox.alert_id == alert.id).values(is_open=False))


def acknowledge(
    session: Session, principal: Principal, alert_id: uuid.UUID, *, now: dt.datetime | None = None
) -> Alert:
    """open → acknowledged: the climb stops."""
    alert = get_alert(session, principal, alert_id)
    if alert.state != "open":
        raise IllegalTransition(_("This alert was already acknowledged."))
    now = now or utcnow()
    alert.state = "acknowledged"
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
    return alert


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
    if alert.state == "open":
        raise IllegalTransition(_("Acknowledge the alert before resolving it."))
    if alert.state != "acknowledged":
        raise IllegalTransition(_("This alert is already resolved."))
    if not (note or "").strip():
        raise AlertError(_("A resolution note is required."))
    alert.state = "resolved"
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


# --------------------------------------------------------------------------- subscriptions


def _on_tier_changed(
    session: Session, student: Any, old_tier: int, new_tier: int, decision: Any = None
) -> None:
    if new_tier >= 3 and (old_tier or 0) < 3:
        raise_alert(
            session, kind="red_tier", school_id=student.school_id, student_id=student.id,
            source_id=getattr(decision, "id", None), tier=3,
        )  # fmt: skip


def _on_critical_response(
    session: Session, student: Any, response_id: uuid.UUID, instrument: str = ""
) -> None:
    raise_alert(
        session, kind="critical_item", school_id=student.school_id, student_id=student.id,
        source_id=response_id, tier=3,
    )  # fmt: skip


def _on_break_glass(session: Session, grant: Any) -> None:
    from ..students.models import Student

    student = session.get(Student, grant.student_id)
    raise_alert(
        session, kind="break_glass", school_id=student.school_id if student else None,
        student_id=grant.student_id, source_id=grant.id,
    )  # fmt: skip


events.subscribe(events.TIER_CHANGED, _on_tier_changed)
events.subscribe(events.CRITICAL_RESPONSE, _on_critical_response)
events.subscribe(events.BREAK_GLASS_STARTED, _on_break_glass)
