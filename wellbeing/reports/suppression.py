"""Small-cell suppression that cannot be undone by subtraction (issue 16 item 2).

A report table that leaves case-worker screens publishes counts of children. A count below the
threshold (``DEFAULT_THRESHOLD``, 10, as OpenSAFELY, NHS Digital and most US state education
agencies use) beside a named list identifies a child, so it is *primary* suppressed and shown
as "<10". Hiding it is not enough when the row, column and grand totals are published: the
hidden cell is their difference. So further cells are hidden (*complementary* suppression,
shown as "*") until every hidden number keeps a feasible interval at least the threshold wide
given everything still published.

The model. A table is a list of rows, each named by a *path* of keys (``(school,)``, or
``(school, grade)``, or ``(school, grade, class)``) and holding one count per column. Every
prefix of a path is a row of a coarser table (the linked table one level up: a school's
grades and the district's schools), so one call protects all the linked tables at once. Every
number published is keyed by ``(prefix, column)``: ``column`` None is a row total, the empty
prefix gives the column totals and (with None) the grand total.

All these numbers are the flows on the edges of one network: the root sends each level-1 row
its total, each row passes it on to its children, a leaf row sends each column its cell, the
cells of the children of a row gather at that row's cell, the level-1 cells at the column
total, the column totals at the sink, and the grand total closes the circuit. A reader who
knows the visible numbers knows the flow on those edges; the hidden ones may be any
non-negative flow that balances every node. The largest increase of a hidden edge u→v is the
maximum flow from v back to u through the hidden edges (forward without limit, backward up to
their value), its largest decrease the maximum flow from u to v, capped at its value. The
constraint matrix of such a network is totally unimodular, so these bounds are the integer
bounds too (the property tests check them with ``scipy.optimize.linprog``).

Zeros: shown by default (``ZeroPolicy.SHOWN``): a zero names nobody, and hiding every zero of
a sparse table hides most of it. With ``ZeroPolicy.SUPPRESSED`` a zero is primary like 1..9.

Complements, deterministically: hidden numbers are examined in a fixed order (level, row order
as given, column, totals last); one not yet protected gets the cheapest circuit of numbers to
hide that lets it move (a total dearest, then a shown zero, then how many, then their sum,
ties by position), sought near it first (a few steps around it, never on
through the root of the rows or of a column, which would take in the whole district), then a
little wider, then everywhere. Same data, same pattern.

Cost (issue 16 item 6; ``make bench BENCH=suppression_bench``): a district's table by class
(200 schools, 1,200 classes, 4 columns, about 4,600 numbers hidden) takes about half a second,
from ten before the searches ran on integers, stopped at the hubs and skipped a number already
shown to move by the threshold in an earlier search (``suppression_search``); a school's table
a few milliseconds. Still slow: a district of 7,200 classes whose tiers 2 and 3 are mostly
below the threshold in every class (the synthetic district's campaign results by class):
seconds, growing with the square of the classes, as more and more of the hidden numbers are
protected only through other schools and need a search of the whole network.

Not covered: the marks say something themselves ("<10" is below the threshold, "*" is not),
which the interval check leaves out as the issue's definition does; tables published apart
from the same children (an instrument's bands beside the tiers) are each protected alone.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from . import suppression_search as search

DEFAULT_THRESHOLD = 10  # a district may set its own (Settings.suppression_threshold)

Path = tuple[Hashable, ...]
Key = tuple[Path, int | None]  # (row prefix, column index or None for the row total)
Node = tuple[str, Path, int | None]


class ZeroPolicy(enum.StrEnum):
    SHOWN = "shown"
    SUPPRESSED = "suppressed"


class Mark(enum.StrEnum):
    VISIBLE = "visible"
    PRIMARY = "primary"  # below the threshold: "<10"
    COMPLEMENT = "complement"  # hidden so that a primary cannot be worked out: "*"


@dataclass(frozen=True)
class Edge:
    key: Key
    tail: Node
    head: Node
    value: int
    order: tuple[int, ...]
    published: bool


@dataclass
class Suppressed:
    """The pattern: every published number, its value and its mark."""

    threshold: int
    values: dict[Key, int]
    marks: dict[Key, Mark]
    columns: int

    def hidden(self, key: Key) -> bool:
        return self.marks.get(key, Mark.VISIBLE) is not Mark.VISIBLE

    def shown(self, key: Key) -> str:
        """The text of the cell: the number, "<10" or "*"."""
        mark = self.marks.get(key, Mark.VISIBLE)
        if mark is Mark.PRIMARY:
            return f"<{self.threshold}"
        if mark is Mark.COMPLEMENT:
            return "*"
        return str(self.values.get(key, 0))

    def value(self, key: Key) -> int | None:
        """The number, or None when it is hidden."""
        return None if self.hidden(key) else self.values.get(key, 0)

    def percent(self, part: Key, whole: Key) -> float | None:
        """``part`` as a share of ``whole``; None when either is hidden (a share of a hidden
        cell would give it back) or the whole is zero."""
        if self.hidden(part) or self.hidden(whole) or not self.values.get(whole):
            return None
        return self.values[part] / self.values[whole]

    def published(self) -> dict[str, int | None]:
        """Every published number by a stable text key (for the release ledger): None when
        hidden."""
        return {cell_id(key): self.value(key) for key in sorted(self.values, key=cell_id)}

    def suppressed_keys(self) -> list[str]:
        return [cell_id(k) for k in sorted(self.values, key=cell_id) if self.hidden(k)]


def cell_id(key: Key) -> str:
    """``"school/grade|3"`` for a cell, ``"school/grade|total"`` for a row total."""
    prefix, column = key
    return "/".join(str(p) for p in prefix) + "|" + ("total" if column is None else str(column))


def suppress(
    rows: Sequence[tuple[Path, Sequence[int]]],
    columns: int,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    zeros: ZeroPolicy = ZeroPolicy.SHOWN,
    row_totals: bool = True,
) -> Suppressed:
    """The suppression pattern of a table and its coarser linked tables.

    ``rows``: ``(path, counts)`` with every path of the same length and ``columns`` counts;
    each prefix of a path is a row of the table one level up. ``row_totals`` False when the
    row totals are not published (a one-column table: the total is the cell), though the
    coarser levels' cells still are.
    """
    if threshold < 1:
        raise ValueError("the threshold must be at least 1")
    depth = len(rows[0][0]) if rows else 1
    edges = network(rows, columns, depth, row_totals)
    hidden = {e.key for e in edges if e.published and _primary(e.value, threshold, zeros)}
    marks = {e.key: Mark.PRIMARY for e in edges if e.key in hidden}
    _complete(edges, hidden, marks, threshold, zeros)
    return Suppressed(
        threshold,
        {e.key: e.value for e in edges if e.published},
        {e.key: marks.get(e.key, Mark.VISIBLE) for e in edges if e.published},
        columns,
    )


def _primary(value: int, threshold: int, zeros: ZeroPolicy) -> bool:
    if value < 0:
        raise ValueError("counts are never negative")
    return 0 < value < threshold or (value == 0 and zeros is ZeroPolicy.SUPPRESSED)


# --------------------------------------------------------------------------- the network

SOURCE: Node = ("source", (), None)
SINK: Node = ("sink", (), None)


def network(
    rows: Sequence[tuple[Path, Sequence[int]]], columns: int, depth: int, row_totals: bool
) -> list[Edge]:
    """One edge per published number (and per unpublished leaf total), in a fixed order."""
    position: dict[Path, int] = {(): 0}
    sums: dict[Key, int] = {}
    for path, counts in rows:
        if len(path) != depth or len(counts) != columns:
            raise ValueError("every row needs a path of the same length and one count a column")
        for level in range(depth + 1):
            prefix = path[:level]
            position.setdefault(prefix, len(position))
            for index, count in enumerate(counts):
                sums[(prefix, index)] = sums.get((prefix, index), 0) + int(count)
                sums[(prefix, None)] = sums.get((prefix, None), 0) + int(count)
    for index in range(columns):  # an empty table still has its column totals
        sums.setdefault(((), index), 0)
    sums.setdefault(((), None), 0)

    def row_node(prefix: Path) -> Node:
        return ("row", prefix, None) if prefix else SOURCE

    def column_node(prefix: Path, column: int) -> Node:
        return ("col", prefix, column)

    edges = []
    for (prefix, column), value in sums.items():
        level = len(prefix)
        order = (level, position[prefix], columns if column is None else column)
        if column is None and not prefix:
            edges.append(Edge((prefix, None), SINK, SOURCE, value, order, True))
        elif column is None:
            published = row_totals or level < depth
            edges.append(
                Edge(
                    (prefix, None), row_node(prefix[:-1]), row_node(prefix), value, order, published
                )
            )
        elif not prefix:
            edges.append(Edge((prefix, column), column_node((), column), SINK, value, order, True))
        else:
            tail = row_node(prefix) if level == depth else column_node(prefix, column)
            head = column_node(prefix[:-1], column)
            edges.append(Edge((prefix, column), tail, head, value, order, True))
    edges.sort(key=lambda e: e.order)
    return edges


# --------------------------------------------------------------------------- the searches


def interval(edges: Sequence[Edge], hidden: set[Key], key: Key, cap: int) -> tuple[int, int]:
    """(how far the hidden number ``key`` can fall, how far it can rise), together counted up
    to ``cap``, given that every other published number not in ``hidden`` is known."""
    secret = [e.key in hidden for e in edges]
    return search.interval_of(
        edges, secret, next(i for i, e in enumerate(edges) if e.key == key), cap
    )


def _complete(
    edges: list[Edge], hidden: set[Key], marks: dict[Key, Mark], threshold: int, zeros: ZeroPolicy
) -> None:
    """Hide complements until every hidden number is protected (``suppression_search``)."""
    secret = [e.key in hidden for e in edges]
    for i in search.complements(edges, secret, threshold, zeros is ZeroPolicy.SHOWN):
        hidden.add(edges[i].key)
        marks[edges[i].key] = Mark.COMPLEMENT
