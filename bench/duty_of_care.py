"""Duty-of-care simulation: a school year of red alerts for one district, on a fresh database.

Real services on a controlled clock (time-machine): alerts are raised with
``wellbeing.alerts.services.raise_alert``, the scheduler's jobs run as the scheduler would run
them (``alerts.escalation_scan`` and ``notify.send_outbox`` with a ``JobContext``), email goes
through the real outbox to a real local SMTP server (aiosmtpd) that is down during random
outages, and staff acknowledge through ``acknowledge`` as themselves. Staff are random people:
each has a probability of responding to a notification (some never respond), a habit of
checking the in-app inbox and a delay for reading email. Time advances minute by minute; idle
minutes (nothing due: no rung, no acknowledgement, no email retry, no new alert) are skipped,
which is what the every-minute scan would have done in them.

At the end it proves that every alert was acknowledged by someone on its ladder and none was
lost (asserted and printed), and prints the distribution of time to acknowledge.

    .venv/bin/python -m bench.duty_of_care [--days 200] [--students 20000] [--seed 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import time_machine
from sqlalchemy import func, select

from wellbeing.alerts import jobs as alert_jobs
from wellbeing.alerts import services as alerts
from wellbeing.alerts.models import Alert, AlertRecipient, AlertState
from wellbeing.auth.models import User
from wellbeing.auth.services import build_principal
from wellbeing.config import Settings
from wellbeing.core import audit
from wellbeing.core.authz import Principal
from wellbeing.core.jobs import JobContext
from wellbeing.db import Database
from wellbeing.students.models import Student

from .duty_report import Result, _check
from .duty_world import (
    ALERTS_PER_STUDENT_DAY,
    COUNSELLORS,
    START,
    Notice,
    Person,
    alert_times,
    build_staff,
    outage_windows,
    rotate_duty,
)

MINUTE = dt.timedelta(minutes=1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ceil_minute(t: dt.datetime) -> dt.datetime:
    floor = t.replace(second=0, microsecond=0)
    return floor if floor == t else floor + MINUTE


# --------------------------------------------------------------------------- the run


class _Smtp:
    """A real SMTP server (aiosmtpd) counting deliveries."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.received = 0
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                outer.received += 1
                return "250 OK"

        self.port = _free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def simulate(
    db: Database,
    settings: Settings,
    *,
    days: int,
    students: int,
    seed: int = 1,
    drain_days: int = 60,
    rate: float = ALERTS_PER_STUDENT_DAY,
) -> Result:
    """Run the simulated year on ``db`` (freshly migrated, keyring installed); returns figures
    and the list of invariant violations (empty when every alert reached someone who acted)."""
    logging.getLogger("wellbeing.notify").setLevel(logging.ERROR)
    rng = random.Random(seed)
    result = Result(days, students)
    wall = time.perf_counter()
    schools = max(3, students // 1000)
    smtp = _Smtp()
    dead_port = _free_port()
    up = settings.with_overrides(
        smtp_url=f"smtp://127.0.0.1:{smtp.port}", base_url="https://wellbeing.example"
    )
    down = up.with_overrides(smtp_url=f"smtp://127.0.0.1:{dead_port}")
    outages = outage_windows(rng, days)
    result.outage_hours = sum((b - a).total_seconds() for a, b in outages) / 3600
    try:
        with time_machine.travel(START - dt.timedelta(days=1), tick=False) as clock:
            people = build_staff(db, up, rng, schools=schools, students=students)
            result.never_responders = sum(1 for p in people.values() if p.p_respond == 0)
            with db.session() as session:
                student_ids = list(session.execute(select(Student.id, Student.school_id)).tuples())
            planned = alert_times(rng, days, students, rate)
            _run(
                db,
                up,
                down,
                outages,
                clock,
                people,
                student_ids,
                planned,
                rng,
                result,
                days,
                drain_days,
            )
        result.smtp_received = smtp.received
        _check(db, result, planned_count=len(planned))
    finally:
        smtp.stop()
    result.wall_seconds = time.perf_counter() - wall
    return result


def _run(
    db: Database, up: Settings, down: Settings, outages: list[tuple[dt.datetime, dt.datetime]],
    clock: Any, people: dict[uuid.UUID, Person], student_ids: list[tuple[uuid.UUID, uuid.UUID]],
    planned: list[tuple[dt.datetime, str]], rng: random.Random, result: Result, days: int, drain_days: int,
    every_minute: bool = False,
) -> None:  # fmt: skip
    end = START + dt.timedelta(days=days)
    hard_stop = end + dt.timedelta(days=drain_days)
    notices: list[Notice] = []
    principals: dict[uuid.UUID, Principal] = {}
    next_planned = 0
    now = START
    duty_week = -1

    def smtp_down(t: dt.datetime) -> bool:
        return any(a <= t < b for a, b in outages)

    while now <= hard_stop:
        clock.move_to(now)
        result.ticks += 1
        week = (now - START).days // 7
        if week != duty_week:
            rotate_duty(db, now)
            duty_week = week
        # 1. people who act now acknowledge (as themselves)
        acting = sorted(
            (n for n in notices if (t := n.act_at()) is not None and t <= now),
            key=lambda n: n.act_at(),
        )  # type: ignore[arg-type,return-value]
        done: set[uuid.UUID] = set()
        for notice in acting:
            if notice.alert_id in done:
                continue
            with db.session() as session:
                alert = session.get(Alert, notice.alert_id)
                if alert is None or alert.state != AlertState.OPEN:
                    done.add(notice.alert_id)
                    continue
                user = session.get(User, notice.person.user_id)
                principal = principals.get(user.id) or build_principal(session, user, now)
                principals[user.id] = principal
                audit.set_actor(
                    audit.Actor(user_id=user.id, username=user.username, role=people[user.id].role)
                )
                try:
                    alerts.acknowledge(session, principal, alert.id, now=now)
                finally:
                    audit.set_actor(audit.SYSTEM_ACTOR)
            done.add(notice.alert_id)
        notices = [
            n
            for n in notices
            if n.alert_id not in done and (n.act_at() is None or n.act_at() > now)
        ]  # type: ignore[operator]
        # 2. new alerts
        while next_planned < len(planned) and planned[next_planned][0] <= now:
            _at, kind = planned[next_planned]
            next_planned += 1
            student_id, school_id = rng.choice(student_ids)
            with alerts.using_settings(up), db.session() as session:
                alerts.raise_alert(
                    session, kind=kind, school_id=school_id, student_id=student_id,
                    source_id=uuid.uuid4(), tier=3, now=now,
                )  # fmt: skip
            result.raised += 1
        # 3. the scheduler's jobs
        alert_jobs.escalation_scan(JobContext(db, up, now))
        settings = down if smtp_down(now) else up
        from wellbeing.notify import jobs as notify_jobs

        notify_jobs.send_outbox(JobContext(db, settings, now))
        # 4. what people were sent now: in-app notices (+ the email that goes with them)
        notices.extend(n for n in _new_notices(db, now, people, rng) if n.responds)
        _update_email_times(db, notices)
        # 5. the next tick: every minute while an alert is open or an email waits (the
        # scheduler's interval); when the district is quiet, straight to the next event.
        with db.session() as session:
            open_alerts = (
                session.scalar(
                    select(func.count()).select_from(Alert).where(Alert.state == AlertState.OPEN)
                )
                or 0
            )
            from wellbeing.notify.models import PENDING, OutboxMessage

            mail_due = session.scalar(
                select(func.min(OutboxMessage.next_attempt_at)).where(
                    OutboxMessage.state == PENDING
                )
            )
        if next_planned >= len(planned) and now >= end and open_alerts == 0 and mail_due is None:
            break
        if open_alerts or every_minute:
            now += MINUTE
            continue
        # Quiet: only emails waiting for a retry (the sender job would idle until then).
        candidates = [now + dt.timedelta(days=1)] + ([mail_due] if mail_due is not None else [])
        if next_planned < len(planned):
            candidates.append(planned[next_planned][0])
        candidates.append(START + dt.timedelta(days=((now - START).days // 7 + 1) * 7))
        now = max(now + MINUTE, _ceil_minute(min(candidates)))
    result.sim_minutes = int((now - START).total_seconds() // 60)


def _new_notices(
    db: Database, now: dt.datetime, people: dict[uuid.UUID, Person], rng: random.Random
) -> list[Notice]:
    """One notice per person notified at ``now``: whether they will act on it, and when they
    would see it in the app (their habit, within their hours)."""
    with db.session() as session:
        rows = session.execute(
            select(AlertRecipient.alert_id, AlertRecipient.step_id, AlertRecipient.user_id, AlertRecipient.channel, AlertRecipient.outbox_id)
            .where(AlertRecipient.notified_at >= now)
        ).all()  # fmt: skip
    email = {(r.step_id, r.user_id): r.outbox_id for r in rows if r.channel == "email"}
    out = []
    for r in rows:
        if r.channel != "inbox" or r.user_id not in people:
            continue
        person = people[r.user_id]
        seen = now + dt.timedelta(minutes=rng.expovariate(1 / person.inbox_mean))
        out.append(
            Notice(
                alert_id=r.alert_id, person=person, notified_at=now,
                outbox_id=email.get((r.step_id, r.user_id)),
                responds=rng.random() < person.p_respond,
                inbox_at=person.available_from(seen, COUNSELLORS),
                email_delay=dt.timedelta(minutes=rng.expovariate(1 / person.email_mean)),
            )
        )  # fmt: skip
    return out


def _update_email_times(db: Database, notices: list[Notice]) -> None:
    from wellbeing.notify.models import OutboxMessage

    waiting = {n.outbox_id for n in notices if n.outbox_id is not None and n.email_at is None}
    if not waiting:
        return
    with db.session() as session:
        sent = dict(
            session.execute(
                select(OutboxMessage.id, OutboxMessage.sent_at)
                .where(OutboxMessage.id.in_(waiting), OutboxMessage.sent_at.is_not(None))
            ).tuples().all()
        )  # fmt: skip
    for notice in notices:
        if notice.email_at is None and notice.outbox_id in sent:
            read = sent[notice.outbox_id] + notice.email_delay
            notice.email_at = notice.person.available_from(read, COUNSELLORS)


# --------------------------------------------------------------------------- command line


def fresh_database(directory: Path) -> tuple[Database, Settings]:
    """A brand-new migrated SQLite database with its own key file (keyring installed)."""
    from wellbeing import modules, open_keyring
    from wellbeing.cli import initialise
    from wellbeing.config import load_settings
    from wellbeing.core import crypto

    key_file = directory / "key.json"
    crypto.write_key_file(key_file, crypto.generate_key_material())
    url = f"sqlite:///{directory / 'duty.db'}"
    settings = load_settings(
        environ={}, env="development", database_url=url, key_file=str(key_file),
        secret_key="x" * 48, argon2_time_cost=1, argon2_memory_kib=1024, audit_checkpoint_dir=str(directory / "checkpoints"),
    )  # fmt: skip
    initialise(settings)
    modules.import_services()
    db = Database(url)
    crypto.install_keyring(open_keyring(db, settings))
    return db, settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--rate", type=float, default=ALERTS_PER_STUDENT_DAY, help="alerts per student per day"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="duty-of-care-") as tmp:
        db, settings = fresh_database(Path(tmp))
        try:
            result = simulate(
                db, settings, days=args.days, students=args.students, seed=args.seed, rate=args.rate
            )
        finally:
            db.dispose()
    print(result.summary())
    for problem in result.violations[:20]:
        print("VIOLATION:", problem)
    assert not result.violations, f"{len(result.violations)} duty-of-care violations"  # noqa: S101
    assert result.raised > 0 and result.acknowledged == result.raised  # noqa: S101
    print("OK: every alert was acknowledged by someone on its ladder; none was lost.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
