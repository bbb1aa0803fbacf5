"""Telling people about an alert: the email text in the recipient's locale (a link, never a name
or a score), the outbox email, and notifying the people of one rung (inbox entry, audit)."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from flask import Flask, current_app, has_app_context
from flask_babel import Babel, force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..config import SUPPORTED_LOCALES, Settings
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Role
from ..notify.services import queue_email
from .models import Alert, AlertInbox, AlertRecipient, AlertState, AlertStep

# --------------------------------------------------------------------------- email text

# Where create_app finds the catalogs too (wellbeing/translations).
_TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
_settings_var: contextvars.ContextVar[Settings | None] = contextvars.ContextVar(
    "wellbeing_alerts_settings", default=None
)


@contextlib.contextmanager
def using_settings(settings: Settings) -> Iterator[None]:
    """Outside requests (jobs, simulations): the settings used for links and locales."""
    token = _settings_var.set(settings)
    try:
        with i18n_context(settings):
            yield
    finally:
        _settings_var.reset(token)


def alert_settings() -> Settings:
    chosen = _settings_var.get()
    if chosen is not None:
        return chosen
    if has_app_context() and "wellbeing.settings" in current_app.extensions:
        return current_app.extensions["wellbeing.settings"]
    return Settings()


@functools.cache
def _mail_app(locale: str, timezone: str) -> Flask:
    """A bare app that only carries translations, for emails written outside requests."""
    app = Flask("wellbeing.alerts.mail")
    app.config.update(
        BABEL_DEFAULT_LOCALE=locale,
        BABEL_DEFAULT_TIMEZONE=timezone,
        BABEL_TRANSLATION_DIRECTORIES=str(_TRANSLATIONS_DIR),
    )
    Babel(app)
    return app


@contextlib.contextmanager
def i18n_context(settings: Settings) -> Iterator[None]:
    if has_app_context():
        yield
        return
    with _mail_app(settings.locale, settings.timezone).app_context():
        yield


def alert_url(alert: Alert) -> str:
    return f"{alert_settings().base_url.rstrip('/')}/alerts/{alert.id}"


def email_text(alert: Alert, role: str, locale: str) -> tuple[str, str]:
    """Subject and body in the recipient's locale: a link, never a name or a score."""
    settings = alert_settings()
    locale = locale if locale in SUPPORTED_LOCALES else settings.locale
    if alert.kind == "break_glass":
        variant = "break_glass"
    elif role in {Role.COUNSELLOR, Role.SUPERVISOR}:
        variant = "district"
    else:
        variant = "school"
    with i18n_context(settings):
        subject, body = _email_templates(variant, locale)
    return subject, body % {"url": alert_url(alert)}


@functools.lru_cache(maxsize=64)
def _email_templates(variant: str, locale: str) -> tuple[str, str]:
    """Translated once per process and locale: ``force_locale`` reloads catalogs, which made
    every recipient of every alert cost milliseconds."""
    with force_locale(locale):
        if variant == "break_glass":
            subject = _("Break-glass access needs review")
            body = _(
                "A break-glass access to a student record was started and needs review: %(url)s"
            )
        elif variant == "district":
            subject = _("A student needs attention")
            body = _("A student at a school of your district needs attention: %(url)s")
        else:
            subject = _("A student needs attention")
            body = _("A student at your school needs attention: %(url)s")
    return str(subject), str(body)


def queue_user_email(session: Session, user: User, subject: str, body: str) -> uuid.UUID | None:
    if not user.email:
        return None
    message = queue_email(session, user=user, subject=subject, body=body, kind="alert")
    return getattr(message, "id", None)


# --------------------------------------------------------------------------- notifying a rung


def notify_user(
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
                    alert_id=alert.id,
                    user_id=user.id,
                    is_open=alert.state == AlertState.OPEN,
                    added_at=now,
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
        outbox_id = queue_user_email(session, user, subject, body)
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
