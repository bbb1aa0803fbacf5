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
import math
import random
import socket
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import time_machine
from sqlalchemy import func, select

from wellbeing.alerts import jobs as alert_jobs
from wellbeing.alerts import services as alerts
from wellbeing.alerts.models import Alert, AlertInbox, AlertRecipient, AlertStep
from wellbeing.auth.models import Membership, User
from wellbeing.auth.services import build_principal
from wellbeing.config import Settings
from wellbeing.core import audit
from wellbeing.core.authz import Principal, Role
from wellbeing.core.jobs import JobContext
from wellbeing.db import Database
from wellbeing.orgs.models import School
from wellbeing.students.models import Student

from .common import percentile

KIND_WEIGHTS = (("red_tier", 0.6), ("critical_item", 0.25), ("urgent_concern", 0.15))
ALERTS_PER_STUDENT_DAY = 1e-4  # ≈ 2 red alerts a school day for 20,000 students
MINUTE = dt.timedelta(minutes=1)
COUNSELLORS = 4
START = dt.datetime(2025, 9, 1, 0, 0, tzinfo=dt.UTC)  # 08:00 in Asia/Shanghai, a Monday
LOCAL = dt.timedelta(hours=8)  # Asia/Shanghai


# --------------------------------------------------------------------------- the people


@dataclass
class Person:
    user_id: uuid.UUID
    role: str
    p_respond: float  # chance of acting on one notification (0: never responds)
    inbox_mean: float  # minutes until they look at the in-app inbox, on average
    email_mean: float  # minutes until they read a delivered email, on average
    duty_slot: int | None = None  # counsellors: their turn in the weekly duty rota

    def available_from(self, t: dt.datetime, counsellors: int) -> dt.datetime:
        """The first moment from ``t`` when this person reads messages: school staff 07–22 h,
        district counsellors 08–20 h, the counsellor on duty at any hour."""
        if self.duty_slot is not None and (t - START).days // 7 % counsellors == self.duty_slot:
            return t
        first, last = (8, 20) if self.role == Role.COUNSELLOR.value else (7, 22)
        local = t + LOCAL
        if first <= local.hour < last:
            return t
        day = local.date() if local.hour < first else local.date() + dt.timedelta(days=1)
        return dt.datetime(day.year, day.month, day.day, first, tzinfo=dt.UTC) - LOCAL


@dataclass
class Notice:
    alert_id: uuid.UUID
    person: Person
    notified_at: dt.datetime
    outbox_id: uuid.UUID | None
    responds: bool
    inbox_at: dt.datetime  # when they would see it in the app
    email_delay: dt.timedelta
    email_at: dt.datetime | None = None  # when they would read the email (once delivered)

    def act_at(self) -> dt.datetime | None:
        if not self.responds:
            return None
        return self.inbox_at if self.email_at is None else min(self.inbox_at, self.email_at)


PROFILES = {
    # role: (share who never respond, p range, inbox mean range, email mean range) in minutes
    Role.PSYCH_TEACHER.value: (0.12, (0.5, 0.95), (20, 240), (5, 60)),
    Role.SCHOOL_LEADER.value: (0.10, (0.5, 0.95), (30, 300), (5, 60)),
    Role.COUNSELLOR.value: (0.10, (0.7, 0.98), (15, 120), (3, 30)),
}


def _person(rng: random.Random, user_id: uuid.UUID, role: str) -> Person:
    never, p, inbox, email = PROFILES[role]
    p_respond = 0.0 if rng.random() < never else rng.uniform(*p)
    return Person(user_id, role, p_respond, rng.uniform(*inbox), rng.uniform(*email))


def build_staff(
    db: Database, settings: Settings, rng: random.Random, *, schools: int, students: int
) -> dict[uuid.UUID, Person]:
    """Schools and students (bench.synthetic), then 1–2 psychology teachers and a leader per
    school, four district counsellors and two supervisors."""
    from wellbeing.auth.admin import create_user, grant_membership

    from .synthetic import generate_district

    people: dict[uuid.UUID, Person] = {}
    with db.session() as session:
        generate_district(
            session, students=students, schools=schools, seed=rng.randrange(1 << 30), prefix="D"
        )
        n = 0

        def user(role: Role, school: School | None) -> None:
            nonlocal n
            n += 1
            account = create_user(
                session, None, settings, username=f"{role.value.replace('_', '')}{n}", password="Duty-of-care-9",  # noqa: S106 (synthetic staff)
                display_name=f"{role.value} {n}", email=f"{role.value}{n}@district.example",
                locale=rng.choice(("zh_CN", "en")),
            )  # fmt: skip
            grant_membership(session, None, account, role, school=school)
            if role != Role.SUPERVISOR:
                people[account.id] = _person(rng, account.id, role.value)

        for school in session.scalars(select(School).order_by(School.code)):
            for _ in range(rng.choice((1, 1, 2))):
                user(Role.PSYCH_TEACHER, school)
            user(Role.SCHOOL_LEADER, school)
        for _ in range(COUNSELLORS):
            user(Role.COUNSELLOR, None)
        for _ in range(2):
            user(Role.SUPERVISOR, None)
        rota = session.scalars(
            select(User.id).join(Membership, Membership.user_id == User.id)
            .where(Membership.role == Role.COUNSELLOR.value).order_by(User.username)
        ).all()  # fmt: skip
        for slot, user_id in enumerate(rota):
            people[user_id].duty_slot = slot
    return people


def rotate_duty(db: Database, now: dt.datetime) -> None:
    """One counsellor on duty per week, in turn."""
    with db.session() as session:
        counsellors = list(
            session.scalars(
                select(User).join(Membership, Membership.user_id == User.id)
                .where(Membership.role == Role.COUNSELLOR.value).order_by(User.username)
            )
        )  # fmt: skip
        week = (now - START).days // 7
        for n, user in enumerate(counsellors):
            user.on_duty = n == week % len(counsellors)


# --------------------------------------------------------------------------- the world's events


def alert_times(
    rng: random.Random, days: int, students: int, rate: float = ALERTS_PER_STUDENT_DAY
) -> list[tuple[dt.datetime, str]]:
    """When alerts arise: mostly school hours on weekdays, some at any time (hotline, evenings)."""
    out = []
    per_day = students * rate
    kinds, weights = zip(*KIND_WEIGHTS, strict=True)
    for day in range(days):
        midnight_cn = START + dt.timedelta(days=day) - dt.timedelta(hours=8)
        weekday = (START + dt.timedelta(days=day)).weekday() < 5
        count = _poisson(rng, per_day * (1.0 if weekday else 0.25))
        for _ in range(count):
            if weekday and rng.random() < 0.85:
                offset = dt.timedelta(hours=rng.uniform(8, 17))
            else:
                offset = dt.timedelta(hours=rng.uniform(0, 24))
            out.append((midnight_cn + offset, rng.choices(kinds, weights)[0]))
    return sorted(out)


def _poisson(rng: random.Random, lam: float) -> int:
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def outage_windows(rng: random.Random, days: int) -> list[tuple[dt.datetime, dt.datetime]]:
    """SMTP outages: about one every two weeks, from half an hour to a day and a half."""
    windows = []
    for _ in range(max(1, days // 14)):
        start = START + dt.timedelta(minutes=rng.uniform(0, days * 24 * 60))
        windows.append((start, start + dt.timedelta(minutes=rng.choice((30, 90, 240, 600, 2160)))))
    return sorted(windows)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ceil_minute(t: dt.datetime) -> dt.datetime:
    floor = t.replace(second=0, microsecond=0)
    return floor if floor == t else floor + MINUTE


# --------------------------------------------------------------------------- the run


@dataclass
class Result:
    days: int
    students: int
    raised: int = 0
    acknowledged: int = 0
    open_at_end: int = 0
    ack_minutes: list[float] = field(default_factory=list)
    in_time: int = 0
    by_role: Counter[str] = field(default_factory=Counter)
    by_rung: Counter[int] = field(default_factory=Counter)
    steps: Counter[str] = field(default_factory=Counter)
    emails_queued: int = 0
    emails_sent: int = 0
    emails_failed: int = 0
    emails_pending: int = 0
    smtp_received: int = 0
    outage_hours: float = 0.0
    sim_minutes: int = 0
    ticks: int = 0
    wall_seconds: float = 0.0
    never_responders: int = 0
    violations: list[str] = field(default_factory=list)

    def summary(self) -> str:
        m = self.ack_minutes
        share = self.in_time / self.acknowledged if self.acknowledged else float("nan")
        lines = [
            f"district: {self.students} students, {self.days} simulated days "
            f"({self.ticks} scheduler ticks simulated, {self.wall_seconds:.1f} s wall)",
            f"alerts raised: {self.raised}; acknowledged: {self.acknowledged}; open at end: {self.open_at_end}; "
            f"violations: {len(self.violations)}",
            f"time to acknowledge (minutes): p50={percentile(m, 0.5):.0f} p90={percentile(m, 0.9):.0f} "
            f"p99={percentile(m, 0.99):.0f} max={max(m) if m else float('nan'):.0f}; "
            f"within policy (≤ due time): {share:.1%}",
            "acknowledged by: " + ", ".join(f"{k}={v}" for k, v in sorted(self.by_role.items())),
            "acknowledged at rung: "
            + ", ".join(f"{k}={v}" for k, v in sorted(self.by_rung.items())),
            "ladder steps: " + ", ".join(f"{k}={v}" for k, v in sorted(self.steps.items())),
            f"staff who never respond: {self.never_responders}",
            f"email: queued={self.emails_queued} sent={self.emails_sent} failed_after_retries={self.emails_failed} "
            f"pending={self.emails_pending} received_by_smtp={self.smtp_received}; SMTP down {self.outage_hours:.1f} h",
        ]
        return "\n".join(lines)


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
                if alert is None or alert.state != "open":
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
                session.scalar(select(func.count()).select_from(Alert).where(Alert.state == "open"))
                or 0
            )
            from wellbeing.notify.models import OutboxMessage

            mail_due = session.scalar(
                select(func.min(OutboxMessage.next_attempt_at)).where(
                    OutboxMessage.state == "pending"
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


def _check(db: Database, result: Result, *, planned_count: int) -> None:
    """The invariants, read back from the database (not from the simulation's memory)."""
    from wellbeing.notify.models import OutboxMessage

    v = result.violations
    with db.session() as session:
        alerts_ = list(session.scalars(select(Alert)))
        if len(alerts_) != planned_count or result.raised != planned_count:
            v.append(
                f"{planned_count} alerts planned, {result.raised} raised, {len(alerts_)} stored"
            )
        ladder = {
            (a, u)
            for a, u in session.execute(select(AlertInbox.alert_id, AlertInbox.user_id)).tuples()
        }
        reached = set(
            session.scalars(select(AlertStep.alert_id).where(AlertStep.recipient_count > 0))
        )
        roles = dict(
            session.execute(
                select(Membership.user_id, Membership.role)
            ).tuples().all()
        )  # fmt: skip
        for step, count in session.execute(
            select(AlertStep.step, func.count()).group_by(AlertStep.step)
        ).tuples():
            result.steps[step] = count
        for alert in alerts_:
            if alert.id not in reached:
                v.append(f"alert {alert.id} reached nobody")
            if alert.state == "open":
                result.open_at_end += 1
                v.append(f"alert {alert.id} was never acknowledged")
                continue
            result.acknowledged += 1
            if (alert.id, alert.acknowledged_by_id) not in ladder:
                v.append(f"alert {alert.id} acknowledged by someone not on its ladder")
            minutes = (alert.acknowledged_at - alert.raised_at).total_seconds() / 60
            result.ack_minutes.append(minutes)
            result.in_time += alert.acknowledged_at <= alert.due_at
            result.by_role[roles.get(alert.acknowledged_by_id, "?")] += 1
            result.by_rung[alert.rung] += 1
        inbox_rows = session.scalar(
            select(func.count())
            .select_from(AlertRecipient)
            .where(AlertRecipient.channel == "inbox")
        )
        if inbox_rows and len(ladder) == 0:
            v.append("in-app notifications without inbox entries")
        states = dict(
            session.execute(
                select(OutboxMessage.state, func.count()).where(OutboxMessage.kind == "alert").group_by(OutboxMessage.state)
            ).tuples().all()
        )  # fmt: skip
        result.emails_queued = sum(states.values())
        result.emails_sent = states.get("sent", 0)
        result.emails_failed = states.get("failed", 0)
        result.emails_pending = states.get("pending", 0)
        # Privacy: no email names the student it is about.
        names = {
            s.id: s.name
            for s in session.scalars(
                select(Student).where(Student.id.in_({a.student_id for a in alerts_}))
            )
        }
        by_outbox = dict(
            session.execute(
                select(AlertRecipient.outbox_id, Alert.student_id).join(Alert, Alert.id == AlertRecipient.alert_id)
                .where(AlertRecipient.outbox_id.is_not(None))
            ).tuples().all()
        )  # fmt: skip
        for message in session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert")):
            name = names.get(by_outbox.get(message.id))  # type: ignore[arg-type]
            if name and (name in message.body or name in message.subject):
                v.append(f"email {message.id} names the student")
    if result.smtp_received != result.emails_sent:
        v.append(
            f"{result.emails_sent} emails marked sent but the SMTP server received {result.smtp_received}"
        )


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
        environ={}, database_url=url, key_file=str(key_file), secret_key="x" * 48,
        argon2_time_cost=1, argon2_memory_kib=1024, audit_checkpoint_dir=str(directory / "checkpoints"),
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
