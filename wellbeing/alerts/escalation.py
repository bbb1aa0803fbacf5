"""The escalation scan in bulk: every open alert whose next rung is due, climbed in chunks.

Per alert the result is the one of climbing it alone (``ladder.climb_rung`` from the next rung, a
reminder past the top -- the one-alert reference is in ``tests/alerts/reference.py`` -- again
while a step is due): the same AlertStep, AlertInbox and AlertRecipient rows, rung, next step
time and reminders. What is shared is computed once per
run: the ladder per (district, tier), the people of a rung per school or district and role
(two queries per chunk for the schools and districts not seen yet); the inbox rows of a chunk's
alerts are read in one query and rows are written with one executemany (COPY on PostgreSQL) per
table and chunk, the alerts updated with one statement per chunk. On PostgreSQL the due rows
are locked ``FOR UPDATE SKIP LOCKED``: two schedulers never escalate the same alert.

Two deliberate differences from one ``notify.notify_user`` per step, both per run (one call):

* email: a person told about one alert gets that alert's email, as before; a person told about
  several gets ONE digest (how many, and a link to their alerts inbox: no names, no scores),
  which every email AlertRecipient row of those alerts points at;
* audit: one entry per (school, kind, step, rung, role): the per-alert entry when one alert
  took that step, else one ``alert_batch`` entry with the count and the recipients' ids.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from ..audit.models import BreakGlass
from ..auth.models import Membership, User
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Role
from ..core.rawsql import RawSQL, insert_rows
from ..db import table_of
from .bulk import person_email, recipient_row
from .ladder import KIND_DEFAULT_TIER, Ladder, ladder_for, next_step_time
from .models import Alert, AlertInbox, AlertRecipient, AlertState, AlertStep
from .notify import queue_user_email

CHUNK = 2000
COUNSELLOR, SUPERVISOR = Role.COUNSELLOR.value, Role.SUPERVISOR.value
SCHOOL_ROLES = (Role.PSYCH_TEACHER.value, Role.SCHOOL_LEADER.value)
DISTRICT_ROLES = (COUNSELLOR, SUPERVISOR)


@dataclass
class _Due:
    """One due alert being climbed: the row's values, not an ORM object."""

    id: uuid.UUID
    kind: str
    district_id: uuid.UUID
    school_id: uuid.UUID | None
    student_id: uuid.UUID | None
    source_id: uuid.UUID | None
    tier: int | None
    raised_at: dt.datetime
    rung: int
    next_step_at: dt.datetime
    reminders: int


_COLUMNS = (
    Alert.id, Alert.kind, Alert.district_id, Alert.school_id, Alert.student_id, Alert.source_id,
    Alert.tier, Alert.raised_at, Alert.rung, Alert.next_step_at, Alert.reminders,
)  # fmt: skip
_TABLE = Alert.__table__
_UPDATE_SQLITE = "UPDATE alert SET rung = ?, next_step_at = ?, reminders = ? WHERE id = ?"
_UPDATE_PG = (
    "UPDATE alert SET rung = v.rung, next_step_at = v.next_step_at, reminders = v.reminders "
    "FROM unnest(%s::uuid[], %s::smallint[], %s::timestamptz[], %s::integer[]) "
    "AS v(id, rung, next_step_at, reminders) WHERE alert.id = v.id"
)


class _Mail(NamedTuple):
    """One email a person would have had: which alert, on which step."""

    alert_id: uuid.UUID
    kind: str
    step_id: uuid.UUID
    rung: int
    role: str


@dataclass
class _Group:
    """Alerts of one school that took the same step (kind, step, rung, role): one audit entry."""

    alert_id: uuid.UUID
    student_id: uuid.UUID | None
    alerts: int = 0
    recipients: dict[uuid.UUID, None] = field(default_factory=dict)


# --------------------------------------------------------------------------- who is on a rung


class People:
    """Ladders and the people on each rung, read once per run (as ``ladder.role_members`` and
    ``ladder.rung_users`` would, for every alert of a school or district)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.ladders: dict[Any, Ladder] = {}
        self.by_school: dict[uuid.UUID | None, dict[str, list[User]]] = {}
        self.by_district: dict[uuid.UUID, dict[str, list[User]]] = {}
        self.breakers: dict[uuid.UUID, uuid.UUID | None] = {}  # break-glass grant → its user
        self.users: dict[uuid.UUID, User | None] = {}  # None: inactive or gone

    def load(self, alerts: Sequence[_Due]) -> None:
        """Members of the chunk's schools and districts not seen yet, and break-glass grants."""
        schools = {a.school_id for a in alerts} - set(self.by_school)
        districts = {a.district_id for a in alerts} - set(self.by_district)
        if schools:
            rows = self._memberships(
                Membership.school_id, SCHOOL_ROLES, schools, Membership.class_id.is_(None)
            )
            self._group(self.by_school, schools, rows)
        if districts:
            rows = self._memberships(Membership.district_id, DISTRICT_ROLES, districts)
            self._group(self.by_district, districts, rows)
        grants = {
            a.source_id for a in alerts if a.kind == "break_glass" and a.source_id is not None
        } - set(self.breakers)
        if grants:
            self.breakers.update({g: None for g in grants})
            query = select(BreakGlass.id, BreakGlass.user_id).where(BreakGlass.id.in_(grants))
            self.breakers.update(dict(self.session.execute(query).tuples().all()))

    def _memberships(self, scope: Any, roles: Iterable[str], ids: set[Any], *extra: Any) -> Any:
        stmt = (
            select(scope, Membership.role, User)
            .join(User, Membership.user_id == User.id)
            .where(User.active.is_(True), Membership.role.in_(roles), scope.in_(ids), *extra)
            .order_by(User.username)
        )
        return self.session.execute(stmt).tuples().all()

    def _group(self, into: dict[Any, dict[str, list[User]]], ids: set[Any], rows: Any) -> None:
        for scope_id in ids:
            into[scope_id] = {}
        for scope_id, role, user in rows:
            users = into[scope_id].setdefault(role, [])
            if all(u.id != user.id for u in users):
                users.append(user)
            self.users[user.id] = user

    def active(self, user_ids: set[uuid.UUID]) -> None:
        """Load the active accounts among ``user_ids`` not seen yet (people already in an
        inbox, who are reminded)."""
        missing = user_ids - set(self.users)
        if not missing:
            return
        self.users.update({u: None for u in missing})
        for user in self.session.scalars(select(User).where(User.id.in_(missing))):
            self.users[user.id] = user if user.active else None

    def ladder(self, alert: _Due) -> Ladder:
        if alert.kind == "break_glass":
            key: Any = "break_glass"
        else:
            tier = alert.tier if alert.tier is not None else KIND_DEFAULT_TIER[alert.kind]
            key = (alert.district_id, min(3, max(1, tier)))
        if key not in self.ladders:
            self.ladders[key] = ladder_for(self.session, alert)  # type: ignore[arg-type]  # _Due has kind, tier, district_id
        return self.ladders[key]

    def members(self, alert: _Due, role: str, *, on_duty: bool = False) -> list[User]:
        """``ladder.role_members``: school roles of the alert's school, others of its district."""
        if role in SCHOOL_ROLES:
            users = self.by_school[alert.school_id].get(role, [])
        else:
            users = self.by_district[alert.district_id].get(role, [])
        return [u for u in users if u.on_duty] if on_duty else list(users)

    def rung_users(self, alert: _Due, role: str) -> list[User]:
        """``ladder.rung_users``: the counsellors on duty (all when nobody is), never the person
        who broke the glass."""
        if role == COUNSELLOR:
            users = self.members(alert, role, on_duty=True) or self.members(alert, role)
        else:
            users = self.members(alert, role)
        excluded = None
        if alert.kind == "break_glass" and alert.source_id is not None:
            excluded = self.breakers.get(alert.source_id)
        return [u for u in users if u.id != excluded]


# --------------------------------------------------------------------------- the run


class Escalation:
    """One scan run: climb every due alert, then one email per person and the audit entries."""

    def __init__(self, session: Session, now: dt.datetime) -> None:
        self.session, self.now = session, now
        self.people = People(session)
        self.steps = 0
        self.mail: dict[uuid.UUID, list[_Mail]] = {}
        self.groups: dict[tuple[Any, ...], _Group] = {}
        self._reset()

    def _reset(self) -> None:
        self.inbox: dict[uuid.UUID, set[uuid.UUID]] = {}
        self.step_rows: list[dict[str, Any]] = []
        self.inbox_rows: list[dict[str, Any]] = []
        self.recipient_rows: list[dict[str, Any]] = []

    def due(self, size: int) -> list[_Due]:
        stmt = (
            select(*_COLUMNS)
            .where(Alert.state == AlertState.OPEN, Alert.next_step_at.is_not(None))
            .where(Alert.next_step_at <= self.now)
            .order_by(Alert.next_step_at, Alert.id)
            .limit(size)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return [_Due(*row) for row in self.session.execute(stmt)]

    def chunk(self, alerts: Sequence[_Due]) -> None:
        """Climb ``alerts`` and write their rows."""
        self._reset()
        self.people.load(alerts)
        self.inbox = {a.id: set() for a in alerts}
        query = select(AlertInbox.alert_id, AlertInbox.user_id).where(
            _among(self.session, AlertInbox.alert_id, list(self.inbox))
        )
        for alert_id, user_id in self.session.execute(query):
            self.inbox[alert_id].add(user_id)
        self.people.active(set().union(*self.inbox.values()))
        for alert in alerts:
            ladder = self.people.ladder(alert)
            while alert.next_step_at <= self.now:
                if alert.rung + 1 < len(ladder.rungs):
                    self.climb(alert, ladder, alert.rung + 1, "escalate")
                else:
                    self.remind(alert, ladder)
        for model, rows in (
            (AlertStep, self.step_rows), (AlertInbox, self.inbox_rows),
            (AlertRecipient, self.recipient_rows),
        ):  # fmt: skip
            insert_rows(self.session, table_of(model), rows)
        self._update(alerts)

    def climb(self, alert: _Due, ladder: Ladder, rung: int, step: str) -> None:
        """``ladder.climb_rung``: notify ``rung``, passing rungs with nobody on them; the top rung
        reaches the district's counsellors when nobody holds its role."""
        top = len(ladder.rungs) - 1
        while True:
            role = ladder.rungs[rung][0]
            users = self.people.rung_users(alert, role)
            if not users and rung == top and role != COUNSELLOR:
                excluded = self.people.breakers.get(alert.source_id) if alert.source_id else None
                users = [u for u in self.people.members(alert, COUNSELLOR) if u.id != excluded]
            self.notify(alert, users, rung=rung, role=role, step=step)
            alert.rung = rung
            if users or rung == top:
                break
            rung, step = rung + 1, "escalate"
        alert.next_step_at = next_step_time(alert, ladder, self.now)  # type: ignore[arg-type]  # _Due has raised_at, rung

    def remind(self, alert: _Due, ladder: Ladder) -> None:
        """Past the top rung: widen to every district counsellor (supervisors for break-glass)
        and remind everyone in the alert's inbox, until someone acknowledges."""
        already = self.inbox[alert.id]
        users: dict[uuid.UUID, User] = {}
        if alert.kind == "break_glass":
            role = SUPERVISOR
            users.update((u.id, u) for u in self.people.rung_users(alert, role))
        else:
            role = ladder.rungs[-1][0]
            if role == COUNSELLOR:
                users.update((u.id, u) for u in self.people.members(alert, role))
        for user_id in already:
            user = self.people.users.get(user_id)
            if user is not None:
                users.setdefault(user_id, user)
        step = "widen" if set(users) - already else "remind"
        self.notify(alert, list(users.values()), rung=alert.rung, role=role, step=step)
        alert.reminders += 1
        alert.next_step_at = self.now + dt.timedelta(minutes=ladder.remind_minutes)

    def notify(
        self, alert: _Due, users: Sequence[User], *, rung: int, role: str, step: str
    ) -> None:
        """``notify.notify_user``'s rows; the email waits for the end of the run."""
        now, step_id = self.now, uuid.uuid4()
        self.step_rows.append({
            "id": step_id, "alert_id": alert.id, "rung": rung, "role": role, "step": step,
            "at": now, "recipient_count": len(users),
        })  # fmt: skip
        inbox = self.inbox[alert.id]
        for user in users:
            if user.id not in inbox:
                inbox.add(user.id)
                self.inbox_rows.append({
                    "id": uuid.uuid4(), "alert_id": alert.id, "user_id": user.id,
                    "is_open": True, "added_at": now,
                })  # fmt: skip
            self.recipient_rows.append(
                recipient_row(alert.id, step_id, user.id, rung, "inbox", now)
            )
            if user.email:
                self.mail.setdefault(user.id, []).append(
                    _Mail(alert.id, alert.kind, step_id, rung, role)
                )
        self.steps += 1
        group = self.groups.get(key := (alert.school_id, alert.kind, step, rung, role))
        if group is None:
            group = self.groups[key] = _Group(alert.id, alert.student_id)
        group.alerts += 1
        group.recipients.update(dict.fromkeys(u.id for u in users))

    def _update(self, alerts: Sequence[_Due]) -> None:
        """One statement for the chunk's alerts (driver level: compiling thousands of VALUES
        rows costs more than running them); the session's loaded copies follow."""
        raw, c = RawSQL(self.session), _TABLE.c
        ids, nexts = raw.processor(c.id), raw.processor(c.next_step_at)
        if raw.arrays:  # PostgreSQL: the chunk as four arrays
            raw.run(_UPDATE_PG, (
                [ids(a.id) for a in alerts], [a.rung for a in alerts],
                [nexts(a.next_step_at) for a in alerts], [a.reminders for a in alerts],
            ))  # fmt: skip
        else:  # SQLite: executemany runs in-process, no round trips
            raw.run(
                _UPDATE_SQLITE, [(a.rung, nexts(a.next_step_at), a.reminders, ids(a.id)) for a in alerts]
            )  # fmt: skip
        identity_map = self.session.identity_map
        for alert in alerts:
            loaded = identity_map.get(identity_key(Alert, alert.id))
            if loaded is not None:
                set_committed_value(loaded, "rung", alert.rung)
                set_committed_value(loaded, "next_step_at", alert.next_step_at)
                set_committed_value(loaded, "reminders", alert.reminders)

    # ----------------------------------------------------------------------- end of the run

    def send(self) -> None:
        """One email per person: the alert's own email for one alert, else a digest."""
        rows: list[dict[str, Any]] = []
        for user_id, mails in self.mail.items():
            user = self.people.users[user_id]
            assert user is not None  # noqa: S101 (only active people are notified)
            subject, body = person_email(user, [(m.alert_id, m.kind, m.role) for m in mails])
            outbox_id = queue_user_email(self.session, user, subject, body)
            if outbox_id is None:
                continue
            rows.extend(
                recipient_row(m.alert_id, m.step_id, user_id, m.rung, "email", self.now, outbox_id)
                for m in mails
            )
        self.session.flush()
        insert_rows(self.session, table_of(AlertRecipient), rows)

    def record(self) -> None:
        for (school_id, kind, step, rung, role), group in self.groups.items():
            detail = {
                "kind": kind, "step": step, "rung": rung, "role": role,
                "recipients": list(group.recipients),
            }  # fmt: skip
            if group.alerts == 1:  # what ``notify_user`` records for one alert
                audit.record(
                    self.session, AuditAction.ALERT_ESCALATE, object_type="alert",
                    object_id=group.alert_id, student_id=group.student_id, school_id=school_id,
                    detail=detail,
                )  # fmt: skip
            else:
                audit.record(
                    self.session, AuditAction.ALERT_ESCALATE, object_type="alert_batch",
                    school_id=school_id, detail={**detail, "alerts": group.alerts},
                )  # fmt: skip


def _among(session: Session, column: Any, ids: list[Any]) -> Any:
    """``column IN ids``; on PostgreSQL ``= ANY(array)``, one parameter instead of thousands."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("ids", ids, type_=ARRAY(column.type)))
    return column.in_(ids)


def escalate_due(
    session: Session, now: dt.datetime, *, chunk: int = CHUNK, limit: int | None = None
) -> int:
    """Climb every open alert whose next step is due (at most ``limit``), ``chunk`` alerts at a
    time; returns the number of steps recorded."""
    session.flush()
    run = Escalation(session, now)
    seen: set[uuid.UUID] = set()
    while limit is None or len(seen) < limit:
        size = chunk if limit is None else min(chunk, limit - len(seen))
        fetched = run.due(size)
        alerts = [a for a in fetched if a.id not in seen]
        if not alerts:
            break
        seen.update(a.id for a in alerts)
        run.chunk(alerts)
        if len(fetched) < size:
            break
    run.send()
    run.record()
    session.flush()
    return run.steps
