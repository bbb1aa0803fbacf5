"""The figures of the duty-of-care simulation (bench/duty_of_care.py) and its invariants, read
back from the database at the end."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select

from wellbeing.alerts.models import Alert, AlertInbox, AlertRecipient, AlertState, AlertStep
from wellbeing.auth.models import Membership
from wellbeing.db import Database
from wellbeing.students.models import Student

from .common import percentile


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


def _check(db: Database, result: Result, *, planned_count: int) -> None:
    """The invariants, read back from the database (not from the simulation's memory)."""
    from wellbeing.notify.models import FAILED, PENDING, SENT, OutboxMessage

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
            if alert.state == AlertState.OPEN:
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
        result.emails_sent = states.get(SENT, 0)
        result.emails_failed = states.get(FAILED, 0)
        result.emails_pending = states.get(PENDING, 0)
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
