"""The outbox against a real local SMTP server (aiosmtpd): delivery, outage, backoff, give-up."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.db import utcnow
from wellbeing.notify.models import FAILED, PENDING, SENT, OutboxMessage
from wellbeing.notify.services import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    GIVE_UP_AFTER,
    NotifyError,
    backoff,
    parse_smtp_url,
    queue_email,
    send_due,
)

from ..factories import make_school, make_user
from .smtp_server import free_port, start_server


def later(**kw):
    return utcnow() + dt.timedelta(**kw)


@pytest.fixture
def teacher(db_session, env):
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    user.email = "teacher@school.example"
    db_session.flush()
    return user


@pytest.fixture
def smtp():
    controller, handler = start_server()
    yield controller, handler
    controller.stop()


def settings_for(env, port: int):
    return env.settings.with_overrides(
        smtp_url=f"smtp://127.0.0.1:{port}", mail_from="wellbeing@district.example"
    )


def test_queue_writes_a_pending_row_with_encrypted_recipient(db_session, teacher):
    message = queue_email(
        db_session,
        user=teacher,
        subject="Attention needed",
        body="A student at your school needs attention: http://x/alerts",
        kind="alert",
    )
    db_session.flush()
    assert (
        message.state == PENDING
        and message.attempts == 0
        and message.recipient == "teacher@school.example"
    )
    raw = db_session.execute(
        text("SELECT recipient_ct FROM outbox_message WHERE id = :i"),
        {"i": message.id.hex if db_session.get_bind().dialect.name == "sqlite" else message.id},
    ).scalar()
    assert raw is not None and b"teacher@school.example" not in bytes(raw)


def test_queue_without_any_address_is_stored_failed(db_session, env):
    user = make_user(db_session, env.settings, Role.COUNSELLOR)
    message = queue_email(db_session, user=user, subject="s", body="b", kind="digest")
    assert (message.state, message.last_error) == (FAILED, "no_address")


def test_queue_refuses_multiline_subject(db_session, teacher):
    with pytest.raises(NotifyError):
        queue_email(db_session, user=teacher, subject="a\nBcc: x@y", body="b", kind="alert")


def test_delivered_message_content(db_session, env, teacher, smtp):
    controller, handler = smtp
    queue_email(
        db_session,
        user=teacher,
        subject="需要关注 / Attention",
        body="A student at your school needs attention: http://127.0.0.1:5000/alerts",
        kind="alert",
    )
    queue_email(
        db_session, address="leader@school.example", subject="Second", body="Body two", kind="alert"
    )
    db_session.flush()
    assert send_due(db_session, settings_for(env, controller.port), later(seconds=1)) == 2
    assert len(handler.messages) == 2
    first = next(m for m in handler.messages if m["To"] == "teacher@school.example")
    assert first["Subject"] == "需要关注 / Attention"
    assert first["From"] == "wellbeing@district.example"
    assert first["X-Wellbeing-Kind"] == "alert"
    assert (
        first.get_content().strip()
        == "A student at your school needs attention: http://127.0.0.1:5000/alerts"
    )
    assert {tuple(e[1]) for e in handler.envelopes} == {
        ("teacher@school.example",),
        ("leader@school.example",),
    }
    rows = db_session.scalars(select(OutboxMessage)).all()
    assert {r.state for r in rows} == {SENT} and all(r.sent_at is not None for r in rows)
    # nothing is sent twice
    assert send_due(db_session, settings_for(env, controller.port), later(hours=1)) == 0
    assert len(handler.messages) == 2


def test_smtp_down_retries_with_backoff_then_delivers(db_session, env, teacher):
    port = free_port()  # nothing listens here yet
    settings = settings_for(env, port)
    message = queue_email(db_session, user=teacher, subject="Attention", body="link", kind="alert")
    db_session.flush()
    now = message.next_attempt_at
    assert send_due(db_session, settings, now) == 0
    assert (message.state, message.attempts, message.last_error) == (PENDING, 1, "connect")
    assert message.next_attempt_at == now + BACKOFF_BASE
    # not due yet: untouched
    assert send_due(db_session, settings, now + BACKOFF_BASE / 2) == 0
    assert message.attempts == 1
    # second failure doubles the delay
    assert send_due(db_session, settings, now + BACKOFF_BASE) == 0
    assert message.attempts == 2 and message.next_attempt_at == now + 3 * BACKOFF_BASE
    controller, handler = start_server(port)
    try:
        assert send_due(db_session, settings, now + BACKOFF_BASE) == 0  # still waiting
        assert send_due(db_session, settings, now + 3 * BACKOFF_BASE) == 1
    finally:
        controller.stop()
    assert message.state == SENT and message.last_error is None and message.attempts == 3
    assert [m["Subject"] for m in handler.messages] == ["Attention"]


def test_keeps_trying_for_a_day_then_gives_up_and_audits(db_session, env, teacher, audit_entries):
    """Given up by age, not by a count of tries: eight tries used to run out after about two
    hours of outage, and the alert e-mail was lost (issue 17 item 5)."""
    settings = settings_for(env, free_port())
    message = queue_email(db_session, user=teacher, subject="Attention", body="link", kind="alert")
    db_session.flush()
    queued = (
        message.created_at
        if message.created_at.tzinfo
        else message.created_at.replace(tzinfo=dt.UTC)
    )
    tries = 0
    while message.state != FAILED and tries < 100:
        at = message.next_attempt_at
        at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        if at - queued < dt.timedelta(hours=3):
            assert message.state != FAILED  # still trying hours into the outage
        send_due(db_session, settings, at)
        tries += 1
    assert message.state == FAILED and 8 < message.attempts == tries < 30
    assert at - queued >= GIVE_UP_AFTER
    entries = audit_entries(AuditAction.EMAIL_FAILED)
    assert len(entries) == 1 and entries[0].detail == {
        "kind": "alert",
        "attempts": tries,
        "error": "connect",
    }
    assert "teacher@" not in str(entries[0].detail)


def test_permanent_refusal_fails_at_once_others_still_delivered(db_session, env, teacher):
    controller, handler = start_server(refuse={"gone@school.example"})
    try:
        bad = queue_email(
            db_session, address="gone@school.example", subject="x", body="y", kind="alert"
        )
        good = queue_email(db_session, user=teacher, subject="x", body="y", kind="alert")
        db_session.flush()
        sent = send_due(db_session, settings_for(env, controller.port), later(seconds=1))
    finally:
        controller.stop()
    assert sent == 1
    assert (bad.state, bad.last_error, good.state, good.last_error) == (
        FAILED,
        "recipient_refused",
        SENT,
        None,
    )
    assert [m["To"] for m in handler.messages] == ["teacher@school.example"]


def test_no_smtp_configured_keeps_messages(db_session, env, teacher):
    message = queue_email(db_session, user=teacher, subject="x", body="y", kind="alert")
    db_session.flush()
    assert (
        send_due(db_session, env.settings.with_overrides(smtp_url=None), message.next_attempt_at)
        == 0
    )
    assert (message.state, message.last_error) == (PENDING, "no_smtp")


def test_parse_smtp_url():
    t = parse_smtp_url("smtp://user%40x:p%3Ass@mail.example:2525?starttls=true")
    assert (t.host, t.port, t.ssl, t.starttls, t.username, t.password) == (
        "mail.example",
        2525,
        False,
        True,
        "user@x",
        "p:ss",
    )
    s = parse_smtp_url("smtps://mail.example")
    assert (s.port, s.ssl, s.starttls, s.username) == (465, True, False, None)
    with pytest.raises(NotifyError):
        parse_smtp_url("http://mail.example")


@given(st.integers(min_value=1, max_value=60))
def test_backoff_grows_and_is_capped(attempts):
    assert BACKOFF_BASE <= backoff(attempts) <= BACKOFF_CAP
    assert backoff(attempts + 1) >= backoff(attempts)
