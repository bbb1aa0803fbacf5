"""The dashboards' other counts as their viewer may see them (issue 16 item 2): the work queues
(alerts, crises, follow-ups), the trends by month, the alert SLA and the referral figures.

The tier counts go through :func:`publish.dashboard_counts`; this module does the same for
everything else a dashboard shows, with the same rule: the psychology teacher of every school
on the page sees the numbers as they are, anyone else (a school leader, the centre looking at
the district, a supervisor) sees them suppressed.

Nested counts are published as parts of one table so that a difference cannot give a hidden
number back: "alerts not acknowledged" is the row total of (overdue, not yet overdue), and
"follow-ups due within 7 days" of (overdue, due soon). Shares and medians of a group below the
threshold are hidden like the count they describe.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

from ..core.authz import Principal
from ..referrals.queries import Turnaround
from .publish import policy, sees_raw_counts, suppress
from .queries import SchoolFigures, Sla
from .suppression import Path, Suppressed, ZeroPolicy

WORKED = frozenset({"alerts", "crises", "followups"})  # every queue, for the case worker


@dataclass
class Queues:
    """One school's (or the page's) work-queue figures as text."""

    alerts_open: str
    alerts_overdue: str
    alerts_acknowledged: str
    crises_open: str
    followups_due: str
    followups_overdue: str

    @property
    def any_overdue(self) -> bool:
        return self.alerts_overdue != "0" or self.followups_overdue != "0"


@dataclass
class SlaShown:
    alerts: str
    share: float | None  # None when hidden or unknown
    median_minutes: float | None
    pending: str


@dataclass
class Published:
    threshold: int | None  # None when the viewer sees the counts as they are
    hidden: bool
    total: Queues
    schools: dict[uuid.UUID, Queues]
    series: dict[str, list[int | None]]  # the trends by month, None when hidden
    series_text: dict[str, list[str]]
    sla: SlaShown
    sla_months: dict[str, float | None]
    referral_states: list[tuple[str, str]]
    partners: list[Turnaround]


def _queue_tables(
    rows: Mapping[uuid.UUID, SchoolFigures], threshold: int, zeros: ZeroPolicy,
    worked: frozenset[str],
) -> tuple[Suppressed, ...]:  # fmt: skip
    """The queues as tables; a queue in ``worked`` (the viewer works it by name) unsuppressed."""
    ids = sorted(rows, key=str)

    def table(name: str, counts: list[list[int]], width: int, totals: bool) -> Suppressed:
        limit, policy_ = (1, ZeroPolicy.SHOWN) if name in worked else (threshold, zeros)
        return suppress([((i,), c) for i, c in zip(ids, counts, strict=True)], width,
                        threshold=limit, zeros=policy_, row_totals=totals)  # fmt: skip

    f = [rows[i] for i in ids]
    return (
        table("alerts", [[r.alerts_overdue, r.alerts_open - r.alerts_overdue] for r in f], 2, True),
        table("followups", [[r.followups_overdue, r.followups_due - r.followups_overdue]
                            for r in f], 2, True),
        table("alerts", [[r.alerts_acknowledged] for r in f], 1, False),
        table("crises", [[r.crises_open] for r in f], 1, False),
    )  # fmt: skip


def _queues(tables: tuple[Suppressed, ...], prefix: Path) -> Queues:
    alerts, follow, acked, crises = tables
    return Queues(
        alerts.shown((prefix, None)), alerts.shown((prefix, 0)), acked.shown((prefix, 0)),
        crises.shown((prefix, 0)), follow.shown((prefix, None)), follow.shown((prefix, 0)),
    )  # fmt: skip


def _series(
    series: Mapping[str, Sequence[int]], months: Sequence[str], threshold: int, zeros: ZeroPolicy
) -> tuple[dict[str, list[int | None]], dict[str, list[str]], bool]:
    values: dict[str, list[int | None]] = {}
    texts: dict[str, list[str]] = {}
    hidden = False
    for name, counts in series.items():
        table = suppress([((m,), [n]) for m, n in zip(months, counts, strict=True)], 1,
                         threshold=threshold, zeros=zeros, row_totals=False)  # fmt: skip
        values[name] = [table.value(((m,), 0)) for m in months]
        texts[name] = [table.shown(((m,), 0)) for m in months]
        hidden = hidden or bool(table.suppressed_keys())
    return values, texts, hidden


def _sla(overall: Sla, months: Mapping[str, Sla], threshold: int) -> tuple[SlaShown, dict]:
    def share(s: Sla) -> float | None:
        return s.share if s.alerts >= threshold else None

    def count(n: int) -> str:
        return str(n) if n == 0 or n >= threshold else f"<{threshold}"

    shown = SlaShown(
        count(overall.alerts), share(overall),
        overall.median_minutes if overall.alerts >= threshold else None, count(overall.pending),
    )  # fmt: skip
    return shown, {m: share(s) for m, s in months.items()}


def _partners(partners: Sequence[Turnaround], threshold: int) -> list[Turnaround]:
    """A median of fewer referrals than the threshold describes those few children: hidden."""
    out = []
    for t in partners:
        ack = t.acknowledged >= threshold
        back = t.with_feedback >= threshold
        out.append(
            dataclasses.replace(
                t,
                ack_median=t.ack_median if ack else None,
                ack_p90=t.ack_p90 if ack else None,
                feedback_median=t.feedback_median if back else None,
                feedback_p90=t.feedback_p90 if back else None,
            )
        )
    return out


def publish_dashboard(
    principal: Principal,
    figures: Mapping[uuid.UUID, SchoolFigures],
    *,
    months: Sequence[str],
    series: Mapping[str, Sequence[int]],
    sla: Sla,
    sla_months: Mapping[str, Sla],
    referral_states: Sequence[tuple[str, int]] = (),
    partners: Sequence[Turnaround] = (),
    worked: frozenset[str] = frozenset(),
) -> Published:
    """``worked``: the queues ("alerts", "crises") the viewer works through by name (the
    centre's counsellors the district alert queue, a school's staff its alerts and crises):
    such a count is the length of the list they open, so it is shown as it is, never "<10"
    beside a list of two."""
    raw = sees_raw_counts(principal, figures)
    threshold, zeros = (1, ZeroPolicy.SHOWN) if raw else policy()
    tables = _queue_tables(figures, threshold, zeros, WORKED if raw else worked)
    values, texts, series_hidden = _series(series, months, threshold, zeros)
    states: list[tuple[str, str]] = []
    if referral_states:
        table = suppress([((label,), [n]) for label, n in referral_states], 1,
                         threshold=threshold, zeros=zeros, row_totals=False)  # fmt: skip
        states = [(label, table.shown(((label,), 0))) for label, _n in referral_states]
        series_hidden = series_hidden or bool(table.suppressed_keys())
    shown_sla, shown_months = _sla(sla, sla_months, threshold)
    prefixes: list[Hashable] = sorted(figures, key=str)
    return Published(
        None if raw else threshold,
        series_hidden or any(t.suppressed_keys() for t in tables),
        _queues(tables, ()),
        {sid: _queues(tables, (sid,)) for sid in prefixes if isinstance(sid, uuid.UUID)},
        values, texts, shown_sla, shown_months, states, _partners(partners, threshold),
    )  # fmt: skip
