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
ties by position), sought near it first (``_region``). Same data, same pattern. Cost: a
school's table by class takes a fraction of a second, a district's 1,260 classes about ten.

Not covered: the marks say something themselves ("<10" is below the threshold, "*" is not),
which the interval check leaves out as the issue's definition does; tables published apart
from the same children (an instrument's bands beside the tiers) are each protected alone.
"""

from __future__ import annotations

import enum
import heapq
from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

DEFAULT_THRESHOLD = 10  # a district may set its own (Settings.suppression_threshold)
REGION_DEPTH = 2  # how far from a leaf cell its protection is sought first (see _region);
# two steps more a level up: the circuit through a sibling grade or school is longer

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


# --------------------------------------------------------------------------- intervals


Arc = tuple[Node, Edge, bool]  # (the node at the other end, the edge, whether along it)


def adjacency(edges: Iterable[Edge]) -> dict[Node, list[Arc]]:
    """Each node's edges, both ways."""
    adj: dict[Node, list[Arc]] = {}
    for e in edges:
        _attach(adj, e)
    return adj


def _attach(adj: dict[Node, list[Arc]], e: Edge) -> None:
    adj.setdefault(e.tail, []).append((e.head, e, True))
    adj.setdefault(e.head, []).append((e.tail, e, False))


def _max_flow(
    adj: dict[Node, list[Arc]],
    start: Node,
    goal: Node,
    limit: int,
    skip: Key,
    region: set[Node] | None = None,
) -> tuple[int, dict[Key, int]]:
    """Maximum flow from ``start`` to ``goal`` through the edges of ``adj`` but ``skip``
    (shortest augmenting paths), stopping at ``limit``: along an edge without bound (up to
    ``limit``), against it down to zero. Returns the flow and how much each edge moved."""
    change: dict[Key, int] = {}

    def room(e: Edge, forward: bool) -> int:
        moved = change.get(e.key, 0)
        return limit - moved if forward else e.value + moved

    total = 0
    while total < limit:
        parent: dict[Node, Arc] = {}
        seen, queue = {start}, deque([start])
        while queue and goal not in seen:
            node = queue.popleft()
            for nxt, e, forward in adj.get(node, ()):
                if nxt in seen or e.key == skip or (region is not None and nxt not in region):
                    continue
                if room(e, forward) > 0:
                    seen.add(nxt)
                    parent[nxt] = (node, e, forward)
                    queue.append(nxt)
        if goal not in seen:
            break
        path, node = [], goal
        while node != start:
            prev, e, forward = parent[node]
            path.append((e, forward))
            node = prev
        push = min([limit - total, *(room(e, forward) for e, forward in path)])
        for e, forward in path:
            change[e.key] = change.get(e.key, 0) + (push if forward else -push)
        total += push
    return total, change


def _interval(
    adj: dict[Node, list[Arc]], edge: Edge, cap: int, region: set[Node] | None = None
) -> tuple[int, int, dict[Key, int]]:
    """(fall, rise, how the hidden numbers moved for the rise), together counted up to
    ``cap`` (the search stops there: a full search is what costs). Within ``region`` only when
    given: the numbers outside it taken as known, which can only narrow the interval, so a
    number protected there is protected."""
    down = _max_flow(adj, edge.tail, edge.head, min(edge.value, cap), edge.key, region)[0]
    up, moved = _max_flow(adj, edge.head, edge.tail, cap - down, edge.key, region)
    return down, up, moved


def _region(every: dict[Node, list[Arc]], edge: Edge, depth: int = REGION_DEPTH) -> set[Node]:
    """The nodes within ``depth`` steps of the edge's ends: its own subtable, its parent's
    and its children's (a class's grade and school), not the whole district."""
    region = {edge.tail, edge.head}
    frontier = set(region)
    for _step in range(depth):
        frontier = {n for node in frontier for n, _e, _f in every.get(node, ())} - region
        region |= frontier
    return region


def interval(edges: Sequence[Edge], hidden: set[Key], key: Key, cap: int) -> tuple[int, int]:
    """(how far the hidden number ``key`` can fall, how far it can rise), together counted up
    to ``cap``, given that every other published number not in ``hidden`` is known."""
    free = [e for e in edges if e.key in hidden or not e.published]
    edge = next(e for e in free if e.key == key)
    down, up, _moved = _interval(adjacency(free), edge, cap)
    return down, up


# --------------------------------------------------------------------------- complements


def _complete(
    edges: list[Edge], hidden: set[Key], marks: dict[Key, Mark], threshold: int, zeros: ZeroPolicy
) -> None:
    """Hide complements until every hidden number is protected. Hiding more only widens the
    intervals, so a number once protected stays so and one pass in order suffices."""
    by_key = {e.key: e for e in edges}
    levels = max(len(e.key[0]) for e in edges)
    free = adjacency(e for e in edges if e.key in hidden or not e.published)
    every = adjacency(edges)
    index = {node: i for i, node in enumerate(_nodes(edges))}
    queue = deque(sorted(hidden, key=lambda k: by_key[k].order))
    regions: dict[Key, set[Node]] = {}
    while queue:
        key = queue[0]
        edge = by_key[key]
        region = regions.setdefault(
            key, _region(every, edge, REGION_DEPTH + 2 * (levels - len(key[0])))
        )
        down, up, moved = _interval(free, edge, threshold, region)
        if down + up >= threshold:
            queue.popleft()
            continue
        need = threshold - down - up
        chosen = _circuit(every, index, hidden, edge, (need, threshold), zeros, moved, region)
        chosen = chosen or _circuit(
            every, index, hidden, edge, (1, threshold), zeros, moved, region
        )
        if not chosen:  # nothing more to hide near it: look at the whole network
            down, up, moved = _interval(free, edge, threshold)
            if down + up >= threshold:
                queue.popleft()
                continue
            need = threshold - down - up
            chosen = _circuit(every, index, hidden, edge, (need, threshold), zeros, moved)
            chosen = chosen or _circuit(every, index, hidden, edge, (1, threshold), zeros, moved)
        if not chosen:
            # no circuit left to open (not seen: the grand total's always is): the first visible
            fallback = next((e for e in edges if e.published and e.key not in hidden), None)
            chosen = [] if fallback is None else [fallback]
        if not chosen:  # everything is hidden already: nothing more can be done
            queue.popleft()
            continue
        for edge in chosen:
            hidden.add(edge.key)
            marks[edge.key] = Mark.COMPLEMENT
            _attach(free, edge)
            queue.append(edge.key)


def _circuit(
    every: dict[Node, list[Arc]],
    index: dict[Node, int],
    hidden: set[Key],
    edge: Edge,
    need: tuple[int, int],
    zeros: ZeroPolicy,
    moved: dict[Key, int],
    region: set[Node] | None = None,
) -> list[Edge]:
    """The cheapest visible numbers to hide so that ``edge`` can rise by ``need[0]`` more
    than it already can (the flow ``moved``, capped at ``need[1]``): a path back from its head
    to its tail in what that flow leaves, through a hidden number with room left, or a
    visible one increased (forward) or decreased by at least ``need[0]`` (backward); priced
    by the visible numbers it uses (totals dearest, then shown zeros, then how many, then
    their sum; ties by position). Empty when none."""
    least, limit = need
    Cost = tuple[int, int, int, int]
    best: dict[Node, Cost] = {edge.head: (0, 0, 0, 0)}
    came: dict[Node, tuple[Node, Edge]] = {}
    heap: list[tuple[Cost, int, Node]] = [((0, 0, 0, 0), index[edge.head], edge.head)]
    done: set[Node] = set()
    while heap:
        cost, _i, node = heapq.heappop(heap)
        if node in done:
            continue
        done.add(node)
        if node == edge.tail:
            break
        for nxt, via, forward in every.get(node, ()):
            if via.key == edge.key or nxt in done:
                continue
            visible = via.published and via.key not in hidden
            if visible:
                room = limit if forward else via.value
            else:
                change = moved.get(via.key, 0)
                room = limit - change if forward else via.value + change
            if room < least:
                continue
            if region is not None and nxt not in region:
                continue
            step: Cost = (0, 0, 0, 0)
            if visible:
                total = via.key[1] is None or not via.key[0]
                zero = via.value == 0 and zeros is ZeroPolicy.SHOWN
                step = (int(total), int(zero), 1, via.value)
            new = (cost[0] + step[0], cost[1] + step[1], cost[2] + step[2], cost[3] + step[3])
            if nxt not in best or new < best[nxt]:
                best[nxt] = new
                came[nxt] = (node, via)
                heapq.heappush(heap, (new, index[nxt], nxt))
    if edge.tail not in came:
        return []
    chosen, node = [], edge.tail
    while node != edge.head:
        node, via = came[node]
        if via.published and via.key not in hidden:
            chosen.append(via)
    return sorted(chosen, key=lambda e: e.order)


def _nodes(edges: list[Edge]) -> list[Node]:
    seen: dict[Node, None] = {}
    for e in edges:
        seen.setdefault(e.tail)
        seen.setdefault(e.head)
    return list(seen)
