"""The workbench: for the acting person, the panels of what needs them today.

Each role has its panels (:data:`ROLE_PANELS`); a person with several roles sees each panel
once. A panel is a count and its first rows, each row leading to the item; the counts come
from :mod:`.queries` (one indexed COUNT each) with the scopes the linked list uses. Names of
children shown on the page are audited like every list of children (one ``STUDENT_LIST``
entry: which students, which fields; never a value).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..alerts.common import KIND_LABELS
from ..alerts.district import QueueFilter, centre_districts, queue_page
from ..alerts.models import Alert, AlertState
from ..audit import queries as audit_queries
from ..concerns.models import ConcernState
from ..core import audit
from ..core.audit import AuditAction, Outcome
from ..core.authz import Permission, Principal, Role, can, ensure
from ..core.states import state_name
from ..followups.services import local_day_bounds
from ..risk.queries import pending_stepdowns
from ..students.chip import chip_fields
from ..students.models import Student
from . import queries

# How far back the supervisor's refused-access count and the administrator's imports look.
DENIED_WINDOW = dt.timedelta(days=7)
IMPORT_WINDOW = dt.timedelta(days=30)


@dataclass(frozen=True)
class Today:
    """The moment the page is for: now (UTC) and the end of the local day."""

    now: dt.datetime
    tz: Any

    @property
    def end_of_day(self) -> dt.datetime:
        return local_day_bounds(self.now, self.tz)[1]


@dataclass(frozen=True)
class Row:
    """One item: where it leads (endpoint and its arguments), what it is, about whom, when."""

    endpoint: str
    params: dict[str, Any]
    what: object  # a label (lazy translation) or text
    student: Student | None = None
    when: dt.datetime | None = None
    late: bool = False
    day: dt.date | None = None  # a due date (tasks, plan reviews) rather than a moment


@dataclass(frozen=True)
class Panel:
    key: str
    title: object
    count: int | None  # None: a state, not a count (the integrity panel)
    rows: list[Row] = field(default_factory=list)
    more: tuple[str, dict[str, Any]] | None = None  # the full list: (endpoint, arguments)
    empty: object = _l("Nothing waiting.")
    state: object | None = None  # a sentence for panels that show a state
    state_ok: bool = True
    fields: tuple[str, ...] = ()  # what the rows show besides the chip (audited by name)


PanelSource = Callable[[Session, Principal, Today], Panel | None]

URGENCY = {
    "routine": _l("Concern: routine"),
    "soon": _l("Concern: soon"),
    "immediate_danger": _l("Concern: immediate danger"),
}


def named(principal: Principal, student: Student | None) -> Student | None:
    """The student, to be named on the page, only for someone who may read their record (the
    lists' rule: the others see what the item is, not whom it is about)."""
    if student is None or not can(principal, Permission.RECORD_READ, student):
        return None
    return student


def _alert_rows(session: Session, principal: Principal, alerts: list[Alert], now: dt.datetime) -> list[Row]:  # fmt: skip
    students = queries.students_by_id(session, {a.student_id for a in alerts if a.student_id})
    rows = []
    for alert in alerts:
        student = students.get(alert.student_id) if alert.student_id else None
        shown = named(principal, student) if alert.kind != "break_glass" else None
        rows.append(
            Row("alerts.detail", {"alert_id": alert.id}, KIND_LABELS.get(alert.kind, alert.kind),
                shown, alert.due_at, alert.state == AlertState.OPEN and alert.due_at < now)
        )  # fmt: skip
    return rows


# --------------------------------------------------------------------------- panels


def inbox_panel(session: Session, principal: Principal, today: Today) -> Panel:
    found = queries.inbox_open(session, principal.user_id)
    title = (
        _l("Escalations waiting")
        if principal.roles & {Role.SCHOOL_LEADER} and Role.PSYCH_TEACHER not in principal.roles
        else _l("Alerts not yet acknowledged")
    )
    rows = _alert_rows(session, principal, found.rows, today.now)
    return Panel("alerts", title, found.count, rows, ("alerts.inbox", {}))


def crises_panel(session: Session, principal: Principal, today: Today) -> Panel:
    found = queries.open_crises(session, principal.school_ids())
    students = queries.students_by_id(session, {c.student_id for c in found.rows})
    rows = [
        Row("crisis.detail", {"crisis_id": c.id}, _l("Crisis opened"),
            named(principal, students.get(c.student_id)),
            c.opened_at)
        for c in found.rows
    ]  # fmt: skip
    return Panel("crises", _l("Open crises"), found.count, rows, ("crisis.index", {}))


def review_panel(session: Session, principal: Principal, today: Today) -> Panel:
    found = queries.provisional_students(session, principal.school_ids(Role.PSYCH_TEACHER))
    rows = [
        Row(
            "risk.student_tier",
            {"student_id": s.id},
            _l("Confirm or change the tier"),
            named(principal, s),
        )
        for s in found.rows
    ]
    return Panel(
        "review", _l("Provisional tiers to review"), found.count, rows, ("screening.review", {})
    )


def concerns_panel(session: Session, principal: Principal, today: Today) -> Panel:
    schools = principal.school_ids(Role.PSYCH_TEACHER, Role.SCHOOL_LEADER)
    found = queries.new_concerns(session, schools)
    students = queries.students_by_id(session, {c.student_id for c in found.rows})
    rows = [
        Row("concerns.detail", {"concern_id": c.id}, URGENCY.get(c.urgency, _l("Concern reported")),
            named(principal, students.get(c.student_id)), c.created_at,
            c.urgency == "immediate_danger")
        for c in found.rows
    ]  # fmt: skip
    return Panel("concerns", _l("New concerns"), found.count, rows, ("concerns.queue", {"status": ConcernState.NEW}))  # fmt: skip


def followups_panel(session: Session, principal: Principal, today: Today) -> Panel:
    found = queries.followups_due(session, principal.user_id, today.end_of_day)
    students = queries.students_by_id(session, {f.student_id for f in found.rows})
    rows = []
    for fu in found.rows:
        student = students.get(fu.student_id)
        may_record = student is not None and can(principal, Permission.FOLLOWUPS_MANAGE, student)
        endpoint, params = (
            ("followups.complete", {"followup_id": fu.id}) if may_record else ("followups.agenda", {})
        )  # fmt: skip
        late = fu.due_at < today.now
        rows.append(
            Row(endpoint, params, _l("Overdue") if late else _l("Due today"),
                named(principal, student), fu.due_at, late)
        )  # fmt: skip
    return Panel(
        "followups", _l("Follow-ups due today or overdue"), found.count, rows,
        ("followups.agenda", {}),
    )  # fmt: skip


def own_reports_panel(session: Session, principal: Principal, today: Today) -> Panel:
    found = queries.own_reports(session, principal.user_id)
    students = queries.students_by_id(session, {c.student_id for c in found.rows})
    rows = [
        Row("concerns.mine", {}, state_name(ConcernState(c.state)), students.get(c.student_id),
            c.created_at)
        for c in found.rows
    ]  # fmt: skip
    return Panel(
        "my_reports", _l("My reports not yet acted on"), found.count, rows, ("concerns.mine", {}),
        empty=_l("No report waiting."),
    )  # fmt: skip


def signoffs_panel(session: Session, principal: Principal, today: Today) -> Panel:
    count = queries.pending_stepdown_count(
        session, principal.school_ids(Role.SCHOOL_LEADER), Role.COUNSELLOR in principal.roles
    )
    first = pending_stepdowns(session, principal, limit=queries.FIRST_ROWS) if count else []
    rows = [
        Row(
            "risk.stepdown_queue",
            {},
            _l("Step-down from red"),
            named(principal, student),
            decision.decided_at,
        )
        for decision, student in first
    ]
    return Panel("signoffs", _l("Sign-offs waiting"), count, rows, ("risk.stepdown_queue", {}))


def district_queue_panel(session: Session, principal: Principal, today: Today) -> Panel:
    page = queue_page(
        session, centre_districts(principal), QueueFilter(state=AlertState.OPEN), today.now
    )
    alerts = [row.alert for row in page.rows[: queries.FIRST_ROWS]]
    return Panel(
        "district_queue", _l("District alert queue"), page.total,
        _alert_rows(session, principal, alerts, today.now), ("alerts.district_queue", {}),
    )  # fmt: skip


def break_glass_panel(session: Session, principal: Principal, today: Today) -> Panel:
    found = queries.break_glass_waiting(session, principal.user_id)
    names = queries.display_names(session, {g.user_id for g in found.rows})
    rows = [
        Row("audit.break_glass_review", {"grant_id": grant.id},
            names.get(grant.user_id, ""), None, grant.started_at)
        for grant in found.rows
    ]  # fmt: skip
    return Panel(
        "break_glass", _l("Break-glass access to review"), found.count, rows,
        ("audit.break_glass_queue", {}),
    )  # fmt: skip


def denied_panel(session: Session, principal: Principal, today: Today) -> Panel:
    count = queries.denied_since(session, today.now - DENIED_WINDOW)
    return Panel(
        "denied", _l("Refused accesses in the last 7 days"), count, [],
        ("audit.queue", {"kind": "denied"}), empty=_l("None."),
    )  # fmt: skip


def integrity_panel(session: Session, principal: Principal, today: Today) -> Panel:
    status = audit_queries.integrity_status(session)
    last = status.last_verification
    if last is None:
        state, ok = _l("The audit trail has not been verified yet."), False
    elif last.first_bad_seq is not None:
        state, ok = _l("The last verification found a tampered entry."), False
    else:
        state, ok = _l("The last verification found the audit trail intact."), True
    rows = [Row("audit.integrity", {}, _l("Last verified"), None, last.created_at)] if last else []
    if status.unreviewable:
        ok = False
    return Panel(
        "integrity", _l("Audit trail integrity"), None, rows, ("audit.integrity", {}),
        state=state, state_ok=ok,
    )  # fmt: skip


def imports_panel(session: Session, principal: Principal, today: Today) -> Panel:
    found = queries.roster_imports(session, today.now - IMPORT_WINDOW)
    names = queries.display_names(session, {e.actor_user_id for e in found.rows})
    rows = [
        Row("students.roster_import", {}, names.get(entry.actor_user_id, "") if entry.actor_user_id
            else _l("Imported from the command line"), None, entry.occurred_at,
            entry.outcome != Outcome.ALLOWED)
        for entry in found.rows
    ]  # fmt: skip
    return Panel(
        "imports", _l("Roster imports in the last 30 days"), found.count, rows,
        ("students.roster_import", {}), empty=_l("No import in the last 30 days."),
    )  # fmt: skip


ACCOUNT_REASONS = {
    "must_change_password": _l("Temporary password not yet changed"),
    "no_second_factor": _l("Second factor required, not set up"),
}


def accounts_panel(session: Session, principal: Principal, today: Today) -> Panel:
    found = queries.accounts_needing_action(session)
    rows = [
        Row("orgs.user_detail", {"user_id": issue.user.id},
            f"{issue.user.display_name} · {ACCOUNT_REASONS[issue.reason]}", None, None)
        for issue in found.rows
    ]  # fmt: skip
    return Panel(
        "accounts", _l("Accounts to follow up"), found.count, rows, ("orgs.users_list", {}),
        empty=_l("Every account is in order."),
    )  # fmt: skip


# Extension point: modules that need more than counts of their own (plans: tasks, plans to
# write, reviews, sign-offs; referrals: the centre's queue and the school's replies; the
# partner portal) add their panels here under the roles that see them, from a file of this
# package that ``views`` imports (``case_panels``, ``partner``), so this file stays below them.
LATER_PANELS: dict[Role, list[PanelSource]] = {}

ROLE_PANELS: dict[Role, list[PanelSource]] = {
    Role.PSYCH_TEACHER: [
        inbox_panel, crises_panel, review_panel, concerns_panel, followups_panel,
    ],
    Role.CLASS_TEACHER: [own_reports_panel, followups_panel],
    Role.SCHOOL_LEADER: [inbox_panel, signoffs_panel, crises_panel, followups_panel],
    Role.COUNSELLOR: [district_queue_panel, signoffs_panel, followups_panel],
    Role.PARTNER: [],
    Role.SUPERVISOR: [break_glass_panel, denied_panel, integrity_panel],
    Role.ADMIN: [imports_panel, accounts_panel],
}  # fmt: skip


def workbench(session: Session, principal: Principal, today: Today) -> list[Panel]:
    """The principal's panels, each once, in role order; the children named are audited."""
    ensure(principal, Permission.SELF_SESSION)
    seen: set[PanelSource] = set()
    panels: list[Panel] = []
    for role in _roles(principal):
        for source in ROLE_PANELS.get(role, []) + LATER_PANELS.get(role, []):
            if source in seen:
                continue
            seen.add(source)
            panel = source(session, principal, today)
            if panel is not None:
                panels.append(panel)
    _audit(session, principal, panels)
    return panels


def _roles(principal: Principal) -> list[Role]:
    """The principal's roles in the order of their memberships (the first is the main one)."""
    return list(dict.fromkeys(scope.role for scope in principal.scopes))


def named_students(principal: Principal, panels: list[Panel]) -> set[uuid.UUID]:
    return {
        row.student.id for panel in panels for row in panel.rows
        if row.student is not None
    }  # fmt: skip


def _named_rows(panels: list[Panel]) -> list[Any]:
    """The students the rows name (each with the chip: name, school, class, tier)."""
    return [row.student for panel in panels for row in panel.rows if row.student is not None]


def _audit(session: Session, principal: Principal, panels: list[Panel]) -> None:
    shown = sorted(str(i) for i in named_students(principal, panels))
    if not shown:
        return
    audit.record(
        session, AuditAction.STUDENT_LIST, object_type="workbench", object_id="today",
        fields=chip_fields(principal, _named_rows(panels))
        + sorted({name for p in panels if p.rows for name in p.fields}),
        detail={"students": shown, "panels": [p.key for p in panels]},
    )  # fmt: skip
