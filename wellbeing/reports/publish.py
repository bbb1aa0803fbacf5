"""Report tables as their viewer may see them (issue 16 item 2, applied).

A case worker (the school's psychology teacher, for every school in the table) already reads
the children's records and sees the counts as they are. Anyone else (a school leader, a
counsellor looking at the district, a supervisor, an export) sees them suppressed: counts
below the threshold as "<10", complements as "*", shares of either hidden.

The campaign results page belongs to ``screening``, a module below this one: it cannot import
us, so ``reports.views`` hands it :func:`publish_results` when its blueprint is registered
(``screening.pages.results_suppression``), as ``crisis`` does for the tier pages.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

from flask import current_app

from ..core.authz import Principal, Role
from ..screening.queries import ResultRow
from .queries import SchoolFigures
from .suppression import DEFAULT_THRESHOLD, Path, Suppressed, ZeroPolicy
from .suppression import suppress as suppress_table

INCOMPLETE = "incomplete"


# Small: a district's table by class keeps about 2 MB (its pattern and its key) per entry.
@functools.lru_cache(maxsize=32)
def _suppress(
    rows: tuple[tuple[Path, tuple[int, ...]], ...],
    columns: int,
    threshold: int,
    zeros: ZeroPolicy,
    row_totals: bool,
) -> Suppressed:
    return suppress_table(rows, columns, threshold=threshold, zeros=zeros, row_totals=row_totals)


def suppress(
    rows: Iterable[tuple[Path, Iterable[int]]],
    columns: int,
    *,
    threshold: int,
    zeros: ZeroPolicy,
    row_totals: bool = True,
) -> Suppressed:
    """:func:`suppression.suppress`, remembered for the same data (the pattern is deterministic,
    so the same data gives the same one): a page, its chart, its exports and the release ledger
    publish the same tables in turn, and a district's table by class takes from half a second
    (1,200 classes) to seconds (7,200) the first time. The result is shared: read it, never
    change it."""
    frozen = tuple((path, tuple(int(n) for n in counts)) for path, counts in rows)
    return _suppress(frozen, columns, threshold, zeros, row_totals)


def sees_raw_counts(principal: Principal, school_ids: Iterable[uuid.UUID]) -> bool:
    """The psychology teacher of every school in the table (a case worker there)."""
    ids = set(school_ids)
    return bool(ids) and ids <= principal.school_ids(Role.PSYCH_TEACHER)


def policy() -> tuple[int, ZeroPolicy]:
    """The threshold and zero policy of the app's settings (default 10, zeros shown)."""
    settings = current_app.extensions.get("wellbeing.settings")
    threshold = getattr(settings, "suppression_threshold", DEFAULT_THRESHOLD)
    zeros = ZeroPolicy(getattr(settings, "suppression_zeros", ZeroPolicy.SHOWN))
    return int(threshold), zeros


@dataclass
class Line:
    """One row of the results table, every count as its text."""

    school: str
    grade: int | None
    class_label: str
    bands: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    tiers: list[str] = field(default_factory=list)
    screened: str = ""
    critical: str = ""
    school_id: uuid.UUID | None = None


@dataclass
class PublishedResults:
    lines: list[Line]
    total: Line
    threshold: int | None  # None when the viewer sees the counts as they are
    hidden: bool  # some count is hidden
    counted_at: str | None = None  # "HH:MM" local when read from the job's tally (results_tally)
    recount_minutes: int | None = None  # how often the job counts again, with counted_at


def _band_columns(code: str, rows: list[ResultRow], order: Mapping[str, list[str]]) -> list[str]:
    seen = {band for r in rows for band in r.bands.get(code, {})}
    known = [b for b in order.get(code, []) if b != INCOMPLETE]
    extra = sorted(seen - set(known) - {INCOMPLETE})
    return known + extra + ([INCOMPLETE] if INCOMPLETE in seen else [])


def publish_results(
    principal: Principal,
    rows: list[ResultRow],
    by: str,
    instruments: list[str],
    band_order: Mapping[str, list[str]],
) -> PublishedResults:
    """The campaign results table at level ``by`` from its class-level ``rows``.

    Suppression runs on the class level with its grades and schools as linked tables, so the
    pages by school, by grade and by class show one consistent pattern and no page can be
    subtracted from another.
    """
    raw = sees_raw_counts(principal, {r.school_id for r in rows})
    threshold, zeros = (1, ZeroPolicy.SHOWN) if raw else policy()
    return publish_rows(rows, by, instruments, band_order, threshold, zeros, raw=raw)


def publish_rows(
    rows: list[ResultRow],
    by: str,
    instruments: list[str],
    band_order: Mapping[str, list[str]],
    threshold: int,
    zeros: ZeroPolicy,
    *,
    raw: bool = False,
) -> PublishedResults:
    """:func:`publish_results` with the policy given (the results tally's job has no viewer)."""
    depth = {"school": 1, "grade": 2, "class": 3}[by]
    paths: list[Path] = [(r.school_id, r.grade, r.class_id) for r in rows]
    tiers = suppress(list(zip(paths, [r.tiers for r in rows], strict=True)), 4,
                     threshold=threshold, zeros=zeros)  # fmt: skip
    critical = suppress([(p, [r.critical]) for p, r in zip(paths, rows, strict=True)], 1,
                        threshold=threshold, zeros=zeros, row_totals=False)  # fmt: skip
    bands: dict[str, tuple[list[str], Suppressed]] = {}
    for code in instruments:
        columns = _band_columns(code, rows, band_order)
        counts = [[r.bands.get(code, {}).get(b, 0) for b in columns] for r in rows]
        bands[code] = columns, suppress(list(zip(paths, counts, strict=True)), len(columns),
                                        threshold=threshold, zeros=zeros)  # fmt: skip

    def line(prefix: tuple[Hashable, ...], sample: ResultRow | None) -> Line:
        out = Line(
            sample.school if sample else "",
            sample.grade if sample and depth >= 2 else None,
            sample.class_label if sample and depth >= 3 else "",
            tiers=[tiers.shown((prefix, t)) for t in range(4)],
            screened=tiers.shown((prefix, None)),
            critical=critical.shown((prefix, 0)),
            school_id=sample.school_id if sample else None,
        )
        for code, (columns, table) in bands.items():
            out.bands[code] = [
                (band, table.shown((prefix, i)))
                for i, band in enumerate(columns)
                if table.values.get((prefix, i)) or table.hidden((prefix, i))
            ]
        return out

    samples: dict[tuple[Hashable, ...], ResultRow] = {}
    for path, row in zip(paths, rows, strict=True):
        samples.setdefault(path[:depth], row)
    tables = [tiers, critical, *(table for _columns, table in bands.values())]
    return PublishedResults(
        [line(prefix, sample) for prefix, sample in samples.items()],
        line((), None),
        None if raw else threshold,
        any(table.suppressed_keys() for table in tables),
    )


# --------------------------------------------------------------------------- dashboards


@dataclass
class Tiles:
    """The tier counts of a dashboard's tiles or of a school's row, as text (the work-queue
    figures beside them, alerts, crises and follow-ups, are not suppressed: each is the count
    of a queue its viewer works through by name, and equals that queue)."""

    tiers: dict[int, str]
    students: str


@dataclass
class DashboardCounts:
    threshold: int | None  # None when the viewer sees the counts as they are
    hidden: bool
    total: Tiles
    schools: dict[uuid.UUID, Tiles]
    grades: dict[int, list[str]]  # the school dashboard's grade x tier table, total last


def dashboard_counts(
    principal: Principal,
    figures: Mapping[uuid.UUID, SchoolFigures],
    by_grade: Mapping[int, Mapping[int, int]] | None = None,
) -> DashboardCounts:
    """The dashboards' tier counts as their viewer may see them: the tiers of every school
    (and, for one school, of its grades) form one table with its totals, the tiles."""
    school_ids = sorted(figures, key=str)
    raw = sees_raw_counts(principal, school_ids)
    threshold, zeros = (1, ZeroPolicy.SHOWN) if raw else policy()
    tier_rows: list[tuple[Path, list[int]]]
    if by_grade is not None and len(school_ids) == 1:
        tier_rows = [
            ((school_ids[0], grade), [tiers.get(t, 0) for t in range(4)])
            for grade, tiers in by_grade.items()
        ]
    else:
        tier_rows = [
            ((sid,), [figures[sid].tiers.get(t, 0) for t in range(4)]) for sid in school_ids
        ]
    tiers = suppress(tier_rows, 4, threshold=threshold, zeros=zeros)

    def tiles(prefix: tuple[Hashable, ...]) -> Tiles:
        return Tiles({t: tiers.shown((prefix, t)) for t in range(4)}, tiers.shown((prefix, None)))

    grades: dict[int, list[str]] = {}
    if by_grade is not None and len(school_ids) == 1:
        for grade in by_grade:
            prefix = (school_ids[0], grade)
            grades[grade] = [tiers.shown((prefix, t)) for t in range(4)] + [
                tiers.shown((prefix, None))
            ]
    return DashboardCounts(
        None if raw else threshold,
        bool(tiers.suppressed_keys()),
        tiles(()),
        {sid: tiles((sid,)) for sid in school_ids},
        grades,
    )
