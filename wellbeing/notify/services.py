"""Queue e-mail in the caller's transaction; deliver it later with retry and backoff.

``queue_email`` only writes an outbox row, so a message is committed (or rolled back) together
with the change that caused it and an SMTP outage never loses it. ``send_due`` (run by the
scheduler's ``notify.send_outbox`` job every 30 s) delivers due messages: a temporary failure
moves ``next_attempt_at`` by an exponential backoff (capped at two hours); a message still not
delivered ``GIVE_UP_AFTER`` (a day) after it was queued is marked failed, logged and audited.
Giving up by age, not by a count of tries: an outage of several hours loses no alert (eight
tries, as before, ran out after about two hours). ``post_notice`` writes an in-app notice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlparse

from babel.support import NullTranslations, Translations
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from ..config import Settings
from ..core import audit
from ..db import utcnow
from .models import FAILED, PENDING, SENT, Notice, OutboxMessage

log = logging.getLogger("wellbeing.notify")

GIVE_UP_AFTER = dt.timedelta(hours=24)
BACKOFF_BASE = dt.timedelta(seconds=60)
BACKOFF_CAP = dt.timedelta(hours=2)
BATCH = 200
SMTP_TIMEOUT = 15


class NotifyError(ValueError):
    """A programming or configuration mistake (a subject that is not one line, an SMTP URL of
    the wrong form), in English for the developer or the operator. Not a DomainError: no
    person's request is refused with it, so nothing translates or shows it on a page."""


def queue_email(
    session: Session,
    *,
    user: Any = None,
    address: str | None = None,
    subject: str,
    body: str,
    kind: str,
) -> OutboxMessage:
    """Write an outbox row in the caller's transaction. ``address`` defaults to ``user.email``;
    with no address at all the row is stored already failed (``no_address``) so that it is
    visible, and nothing is sent."""
    recipient = (address or (getattr(user, "email", None) or "")).strip()
    if "\n" in subject or "\r" in subject or len(subject) > 200:
        raise NotifyError("subject must be one line of at most 200 characters")
    now = utcnow()
    message = OutboxMessage(
        kind=kind[:40],
        user_id=getattr(user, "id", None),
        recipient=recipient,
        subject=subject,
        body=body,
        state=PENDING if recipient else FAILED,
        attempts=0,
        next_attempt_at=now,
        last_error=None if recipient else "no_address",
    )
    session.add(message)
    return message


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next try after ``attempts`` failed tries: 1, 2, 4 … minutes, capped."""
    exponent = min(max(0, attempts - 1), 30)  # 2**30 minutes is far past any cap
    return min(BACKOFF_CAP, BACKOFF_BASE * (2**exponent))


# --------------------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    ssl: bool
    starttls: bool
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://[user:pass@]host[:port][?starttls=true]`` or ``smtps://…`` (implicit TLS)."""
    parsed = urlparse(url)
    if parsed.scheme not in {"smtp", "smtps"} or not parsed.hostname:
        raise NotifyError("SMTP URL must be smtp://host[:port] or smtps://host[:port]")
    query = {k: v[-1].lower() for k, v in parse_qs(parsed.query).items()}
    implicit = parsed.scheme == "smtps"
    return SmtpTarget(
        host=parsed.hostname,
        port=parsed.port or (465 if implicit else 25),
        ssl=implicit,
        starttls=query.get("starttls") in {"1", "true", "yes"},
        username=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
    )


def _connect(target: SmtpTarget) -> smtplib.SMTP:
    if target.ssl:
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            target.host, target.port, timeout=SMTP_TIMEOUT, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT)
    client.ehlo()
    if target.starttls:
        client.starttls(context=ssl.create_default_context())
        client.ehlo()
    if target.username:
        client.login(target.username, target.password or "")
    return client


def build_email(message: OutboxMessage, settings: Settings) -> EmailMessage:
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = message.recipient
    email["Subject"] = message.subject
    # The same Message-ID on every attempt: delivery is at least once (a reply lost after the
    # server took the message is retried), and a copy sent twice is recognisable as one.
    email["Message-ID"] = f"<{message.id.hex}@{settings.mail_from.split('@')[-1]}>"
    email["X-Wellbeing-Kind"] = message.kind
    email.set_content(message.body)
    return email


def _error_code(exc: BaseException) -> tuple[str, bool]:
    """(code, permanent) for a delivery failure; codes never contain server text."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return ("recipient_refused", all(500 <= c < 600 for c in codes))
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ("auth", False)
    if isinstance(exc, smtplib.SMTPResponseException):
        return (f"smtp_{exc.smtp_code}", 500 <= exc.smtp_code < 600)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return ("disconnected", False)
    if isinstance(exc, smtplib.SMTPException):
        return ("smtp_error", False)
    if isinstance(exc, OSError):
        return ("connect", False)
    return ("error", False)


def _failed(
    session: Session, message: OutboxMessage, now: dt.datetime, code: str, permanent: bool
) -> None:
    message.attempts += 1
    message.last_error = code
    if permanent or now - _aware(message.created_at) >= GIVE_UP_AFTER:
        message.state = FAILED
        log.warning(
            "outbox message %s failed for good after %s attempts (%s)",
            message.id,
            message.attempts,
            code,
        )
        audit.record(
            session, audit.AuditAction.EMAIL_FAILED, object_type="outbox_message", object_id=message.id,
            detail={"kind": message.kind, "attempts": message.attempts, "error": code},
            actor=audit.SYSTEM_ACTOR,
        )  # fmt: skip
    else:
        message.next_attempt_at = now + backoff(message.attempts)


def due_messages(session: Session, now: dt.datetime, limit: int = BATCH) -> list[OutboxMessage]:
    """Pending messages whose time has come, through ix_outbox_message_state_next."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.state == PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def send_due(session: Session, settings: Settings, now: dt.datetime | None = None) -> int:
    """Deliver due messages over one SMTP connection; returns how many were sent."""
    now = now or utcnow()
    messages = due_messages(session, now)
    if not messages:
        return 0
    if not settings.smtp_url:
        for message in messages:
            _failed(session, message, now, "no_smtp", False)
        log.warning(
            "WELLBEING_SMTP_URL is not set: %s message(s) wait in the outbox", len(messages)
        )
        return 0
    target = parse_smtp_url(settings.smtp_url)
    try:
        client = _connect(target)
    except (OSError, smtplib.SMTPException) as exc:
        code, _ = _error_code(exc)
        log.warning(
            "SMTP %s:%s unreachable (%s): %s message(s) retried later",
            target.host,
            target.port,
            code,
            len(messages),
        )
        for message in messages:
            _failed(session, message, now, code, False)
        return 0
    sent = 0
    try:
        for message in messages:
            try:
                client.send_message(build_email(message, settings))
            except (OSError, smtplib.SMTPException) as exc:
                code, permanent = _error_code(exc)
                _failed(session, message, now, code, permanent)
                # SMTPException subclasses OSError: only a broken connection ends the batch.
                # The messages after this one were not tried: they stay due, without an
                # attempt counted, for the next run (a new connection) rather than waiting
                # out this message's backoff (tests/faults/test_smtp_outage.py).
                if isinstance(exc, smtplib.SMTPServerDisconnected) or not isinstance(
                    exc, smtplib.SMTPException
                ):
                    break
                continue
            message.state, message.sent_at, message.last_error = SENT, now, None
            message.attempts += 1
            sent += 1
    finally:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            client.quit()
    return sent


# --------------------------------------------------------------------------- in-app notices


def post_notice(
    session: Session, user_id: uuid.UUID, kind: str, ref: str, params: dict[str, Any]
) -> Notice | None:
    """Add a notice unless one with the same (user, kind, ref) exists; returns it or None."""
    existing = session.scalar(
        select(Notice.id).where(Notice.user_id == user_id, Notice.kind == kind, Notice.ref == ref)
    )
    if existing is not None:
        return None
    notice = Notice(user_id=user_id, kind=kind, ref=ref, params=params)
    session.add(notice)
    return notice


def unread_notices(session: Session, user_id: uuid.UUID, limit: int = 10) -> list[Notice]:
    return list(
        session.scalars(
            select(Notice).where(Notice.user_id == user_id, Notice.read_at.is_(None))
            .order_by(Notice.created_at.desc()).limit(limit)
        )
    )  # fmt: skip


def mark_notices_read(session: Session, user_id: uuid.UUID, notice_ids: list[uuid.UUID]) -> int:
    """Mark the user's own notices read (others' ids are ignored); returns how many changed."""
    if not notice_ids:
        return 0
    result = cast(  # an UPDATE's result is a CursorResult (``rowcount``); the stubs say Result
        "CursorResult[Any]",
        session.execute(
            update(Notice)
            .where(Notice.user_id == user_id, Notice.id.in_(notice_ids), Notice.read_at.is_(None))
            .values(read_at=utcnow())
        ),
    )
    return result.rowcount or 0


# --------------------------------------------------------------------------- translations

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
_translations: dict[str, NullTranslations] = {}


def translations(locale: str | None) -> NullTranslations:
    """Catalogue for ``locale`` outside a request (jobs write e-mail in the user's language)."""
    key = locale or "zh_CN"
    if key not in _translations:
        _translations[key] = Translations.load(str(TRANSLATIONS_DIR), [key], domain="messages")
    return _translations[key]
