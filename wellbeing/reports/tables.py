"""The shape every report hands to the page, the chart and the exports (issue 16 items 1-5).

A report builds :class:`ReportTable` objects of *raw* counts. :func:`publish_table` turns one
into what its viewer may see: small cells suppressed with their complements, shares and
statistics of hidden or small groups hidden too. Pages, charts, CSV and XLSX exports and the
release ledger all read the :class:`PublishedTable`, never the raw counts, so no path shows
more than another.

Rows are named by *paths* (``(school_id,)``, ``(school_id, grade)``, ``(month, school_id)``);
counts are given at the finest level only and every prefix is a row of the coarser linked
table (``reports.suppression``). The page shows the rows of ``show_depth`` (and the total
line); the suppression protects every level, whether shown or not: showing less is always
safe.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

from ..core.authz import Principal
from . import publish
from .suppression import Path, Suppressed, ZeroPolicy


@dataclass(frozen=True)
class Share:
    """A percentage column: ``part`` over ``whole`` (column indexes; None = the row total)."""

    heading: str
    part: int
    whole: int | None = None


@dataclass(frozen=True)
class Statistic:
    """A figure that is not a count (a median, a 90th percentile, an average), one per row
    path. Shown only when the group it summarises (``basis``: a column index, None = the row
    total) is visible and at least the threshold: a median of three children describes them.
    ``unit`` is a translated suffix ("min", "days")."""

    heading: str
    values: Mapping[Path, float | None]
    basis: int | None = None
    unit: str = ""
    digits: int = 0


@dataclass
class ReportTable:
    """Raw counts of one table of a report, before suppression."""

    key: str  # stable id, e.g. "coverage.by_class": the ledger scope and the export's name
    title: str
    level_headings: list[str]  # one heading per path level ("School", "Grade", "Class")
    columns: list[str]  # column headings
    rows: list[tuple[Path, list[int]]]  # finest level; every path the same length
    labels: Mapping[Path, str]  # display text of every path prefix shown
    show_depth: int = 1  # which level's rows the page lists (1..len(path))
    row_totals: bool = True  # publish each row's total (False for a one-column table)
    total_heading: str = ""  # heading of the row-total column ("" = "Total")
    shares: list[Share] = field(default_factory=list)
    statistics: list[Statistic] = field(default_factory=list)
    chart: str = "bars"  # "bars" (one group per row), "lines" (rows are months), "none"
    # CSS class of each column's bars/lines (e.g. the tier colours); empty = the series palette
    column_css: list[str] = field(default_factory=list)
    show_total: bool = True  # False where adding the rows up means nothing (months)
    school_ids: set[uuid.UUID] = field(default_factory=set)  # schools the counts come from


@dataclass
class PublishedLine:
    path: Path
    labels: list[str]  # one per level shown (earlier levels blank when unchanged)
    cells: list[str]  # each column's text: the number, "<10" or "*"
    values: list[int | None]  # the same as numbers, None when hidden (charts, XLSX)
    total: str
    total_value: int | None
    shares: list[str]  # "42.0%" or "—" when hidden
    statistics: list[str]


@dataclass
class PublishedTable:
    table: ReportTable
    lines: list[PublishedLine]
    total: PublishedLine
    threshold: int | None  # None when the viewer sees the counts as they are
    hidden: bool  # some number on the page is hidden
    suppressed: Suppressed  # the pattern: the ledger records ``suppressed.published()``

    def head(self) -> list[str]:
        """Headings of the rendered/exported table: levels shown, columns, total, shares,
        statistics."""
        t = self.table
        return [
            *t.level_headings[: t.show_depth], *t.columns,
            *([t.total_heading] if t.row_totals else []),
            *(s.heading for s in t.shares), *(s.heading for s in t.statistics),
        ]  # fmt: skip

    def body(self) -> list[list[str]]:
        """Every line (then the total line) as text cells in the order of :meth:`head`."""
        out = []
        totals = self.table.row_totals
        for line in [*self.lines, *([self.total] if self.table.show_total else [])]:
            row = [*line.labels, *line.cells, *([line.total] if totals else [])]
            out.append([*row, *line.shares, *line.statistics])
        return out


HIDDEN = "—"


def _share(table: Suppressed, prefix: Path, share: Share) -> str:
    value = table.percent((prefix, share.part), (prefix, share.whole))
    return HIDDEN if value is None else f"{value * 100:.1f}%"


def _statistic(table: Suppressed, prefix: Path, stat: Statistic) -> str:
    value = stat.values.get(prefix)
    basis = table.value((prefix, stat.basis))
    if value is None or basis is None or basis < table.threshold:
        return HIDDEN
    return f"{value:.{stat.digits}f}{stat.unit}"


def _line(t: ReportTable, s: Suppressed, prefix: Path, previous: Path | None) -> PublishedLine:
    labels = []
    for level in range(1, t.show_depth + 1):
        part = prefix[:level]
        same = previous is not None and previous[:level] == part and level < t.show_depth
        labels.append("" if same or len(prefix) < level else t.labels.get(part, ""))
    columns = range(len(t.columns))
    return PublishedLine(
        prefix, labels,
        [s.shown((prefix, c)) for c in columns], [s.value((prefix, c)) for c in columns],
        s.shown((prefix, None)), s.value((prefix, None)),
        [_share(s, prefix, share) for share in t.shares],
        [_statistic(s, prefix, stat) for stat in t.statistics],
    )  # fmt: skip


def publish_table(
    principal: Principal | None, table: ReportTable, *, export: bool = False
) -> PublishedTable:
    """The table as ``principal`` may see it. Raw counts only for the psychology teacher of
    every school in it, on screen; exports and prints (``export=True``) are always
    suppressed, whoever asks."""
    raw = (
        not export
        and principal is not None
        and publish.sees_raw_counts(principal, table.school_ids)
    )
    threshold, zeros = (1, ZeroPolicy.SHOWN) if raw else publish.policy()
    suppressed = publish.suppress(
        table.rows, len(table.columns), threshold=threshold, zeros=zeros,
        row_totals=table.row_totals,
    )  # fmt: skip
    prefixes: list[Path] = []
    seen: set[Path] = set()
    for path, _counts in table.rows:
        prefix = path[: table.show_depth]
        if prefix not in seen:
            seen.add(prefix)
            prefixes.append(prefix)
    lines, previous = [], None
    for prefix in prefixes:
        lines.append(_line(table, suppressed, prefix, previous))
        previous = prefix
    total = _line(table, suppressed, (), None)
    return PublishedTable(
        table, lines, total, None if raw else threshold, bool(suppressed.suppressed_keys()),
        suppressed,
    )  # fmt: skip


def label_paths(rows: Iterable[tuple[Path, list[int]]], names: Mapping[Hashable, str]) -> dict:
    """Labels for every prefix of ``rows`` from one mapping of path elements to names (a
    school id to its name, a grade to "七年级", a class id to "高一(1)班")."""
    out: dict[Path, str] = {}
    for path, _counts in rows:
        for level in range(1, len(path) + 1):
            out.setdefault(path[:level], names.get(path[level - 1], str(path[level - 1])))
    return out
