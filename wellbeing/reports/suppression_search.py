"""The searches behind small-cell suppression (``reports.suppression``, whose docstring gives
the model): how far a hidden number can move (a maximum flow through the hidden numbers), and
which visible numbers to hide when it cannot move far enough (the cheapest circuit back).

Speed (issue 16 item 6): a district's table by class has some 10,000 numbers and 4,700 of them
hidden, each needing a search. The searches run on integers; each is first confined to a
region around its number (``_Regions``) that stops at the hubs, widening only when nothing
near is enough; and a number already seen moving by the threshold in an earlier search
(``_Witnesses``) needs none of its own.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .suppression import Edge, Node

REGION_DEPTH = 2  # how far from a leaf cell its protection is sought first (see _Regions);
# two steps more a level up: the circuit through a sibling grade or school is longer
WIDER = 2  # when nothing near is enough: how many times to look two steps further first


# --------------------------------------------------------------------------- intervals
#
# The searches run on integers (a tuple of tuples is hashed afresh on every look-up): a node is
# its index in the order nodes first appear (tail, then head, edge by edge), an edge its index
# in ``network``'s order, and each node's arcs are kept in that order, so what a search visits,
# and so the pattern, depends on the data alone.

Arc = tuple[int, int, bool]  # (the node at the other end, the edge, whether along it)


@dataclass
class _Net:
    edges: list[Edge]
    tail: list[int]
    head: list[int]
    value: list[int]
    nodes: int

    @classmethod
    def of(cls, edges: Sequence[Edge]) -> _Net:
        number: dict[Node, int] = {}
        for e in edges:
            number.setdefault(e.tail, len(number))
            number.setdefault(e.head, len(number))
        return cls(
            list(edges),
            [number[e.tail] for e in edges],
            [number[e.head] for e in edges],
            [e.value for e in edges],
            len(number),
        )

    def adjacency(self, chosen: Iterable[int]) -> list[list[Arc]]:
        """Each node's ``chosen`` edges, both ways."""
        adj: list[list[Arc]] = [[] for _ in range(self.nodes)]
        for e in chosen:
            self.attach(adj, e)
        return adj

    def attach(self, adj: list[list[Arc]], e: int) -> None:
        adj[self.tail[e]].append((self.head[e], e, True))
        adj[self.head[e]].append((self.tail[e], e, False))


def _max_flow(
    adj: list[list[Arc]],
    value: list[int],
    start: int,
    goal: int,
    limit: int,
    skip: int,
    region: set[int] | None = None,
) -> tuple[int, dict[int, int]]:
    """Maximum flow from ``start`` to ``goal`` through the edges of ``adj`` but ``skip``,
    stopping at ``limit``: along an edge without bound (up to ``limit``), against it down to
    zero. Returns the flow and how much each edge moved. Each augmenting path is found depth
    first (any path will do: each carries at least one, so at most ``limit`` searches, and a
    deep search reaches a far goal without first visiting everything nearer)."""
    change: dict[int, int] = {}
    total = 0
    while total < limit:
        parent: dict[int, tuple[int, int, bool]] = {start: (start, skip, True)}
        stack = [start]
        while stack and goal not in parent:
            node = stack.pop()
            for nxt, e, forward in adj[node]:
                if nxt in parent or e == skip or (region is not None and nxt not in region):
                    continue
                moved = change.get(e, 0)
                if (limit - moved if forward else value[e] + moved) > 0:
                    parent[nxt] = (node, e, forward)
                    if nxt == goal:
                        break
                    stack.append(nxt)
        if goal not in parent:
            break
        path: list[tuple[int, bool]] = []
        push, node = limit - total, goal
        while node != start:
            node, e, forward = parent[node]
            path.append((e, forward))
            moved = change.get(e, 0)
            push = min(push, limit - moved if forward else value[e] + moved)
        for e, forward in path:
            change[e] = change.get(e, 0) + (push if forward else -push)
        total += push
    return total, change


def _interval(
    net: _Net, adj: list[list[Arc]], edge: int, cap: int, region: set[int] | None = None
) -> tuple[int, int, dict[int, int], dict[int, int]]:
    """(fall, rise, how the hidden numbers moved for the rise, and for the fall), together
    counted up to ``cap`` (the search stops there: a full search is what costs). Within
    ``region`` only when given: the numbers outside it taken as known, which can only narrow
    the interval, so a number protected there is protected."""
    tail, head, value = net.tail[edge], net.head[edge], net.value
    down, fell = _max_flow(adj, value, tail, head, min(value[edge], cap), edge, region)
    up, moved = _max_flow(adj, value, head, tail, cap - down, edge, region)
    return down, up, moved, fell


class _Witnesses:
    """Other values the hidden numbers can take, seen on the way: each search for an
    interval finds two (the flow that lowers the number, the one that raises it), and each
    moves every hidden number on its path too. A number that two of them move apart by the
    threshold is protected without a search of its own, when every number they move lies in
    its region (its search would have found them)."""

    def __init__(self, net: _Net, threshold: int) -> None:
        self.net, self.threshold = net, threshold
        self.found: list[tuple[frozenset[int], dict[int, int]]] = []
        self.by_edge: dict[int, list[int]] = {}

    def add(self, edge: int, amount: int, flow: dict[int, int]) -> None:
        moves = {e: n for e, n in flow.items() if n}
        if not amount or not moves:
            return
        moves[edge] = amount
        tail, head = self.net.tail, self.net.head
        nodes = frozenset([tail[e] for e in moves] + [head[e] for e in moves])
        number = len(self.found)
        self.found.append((nodes, moves))
        for e in moves:
            self.by_edge.setdefault(e, []).append(number)

    def protect(self, edge: int, region: set[int] | None) -> bool:
        low = high = 0
        for number in self.by_edge.get(edge, ()):
            nodes, moves = self.found[number]
            if region is None or nodes <= region:
                low, high = min(low, moves[edge]), max(high, moves[edge])
                if high - low >= self.threshold:
                    return True
        return False


class _Regions:
    """Where to seek an edge's protection first: the nodes within ``depth`` steps of its ends
    (its own subtable, its parent's and its children's: a class's grade and school), on paths
    that do not go on through a *hub*, a node with more than ``HUB`` arcs (the root of the rows
    or of a column, one arc per school: through it, a few steps are the whole district). A hub
    at an end of the edge is searched from (a school's cell is protected by other schools').
    Each node's ball is worked out once; a region is the union of its ends' balls, None when
    that is every node. Where to look does not change what is safe: a number protected in a
    region is protected, and a number that is not is looked for wider, then everywhere."""

    HUB = 16  # arcs: more than a school's row has (its grades), fewer than a district's

    def __init__(self, net: _Net, every: list[list[Arc]]) -> None:
        self.net, self.every = net, every
        self.hubs = {n for n in range(net.nodes) if len(every[n]) > self.HUB}
        self.hub_balls: dict[tuple[int, int], frozenset[int]] = {}
        self.balls: dict[tuple[int, int], frozenset[int]] = {}
        self.regions: dict[tuple[int, int], set[int] | None] = {}

    def _search(self, node: int, depth: int, through_hubs: bool) -> dict[int, int]:
        steps = {node: 0}
        frontier = [node]
        for step in range(1, depth + 1):
            nxt: list[int] = []
            for n in frontier:
                if not through_hubs and n in self.hubs and n != node:
                    continue
                for other, _e, _f in self.every[n]:
                    if other not in steps:
                        steps[other] = step
                        nxt.append(other)
            frontier = nxt
        return steps

    def _hub_ball(self, hub: int, depth: int) -> frozenset[int]:
        found = self.hub_balls.get((hub, depth))
        if found is None:
            found = frozenset(self._search(hub, depth, True))
            self.hub_balls[(hub, depth)] = found
        return found

    def ball(self, node: int, depth: int) -> frozenset[int]:
        found = self.balls.get((node, depth))
        if found is None:
            if node in self.hubs:
                found = self._hub_ball(node, depth)
            else:
                found = frozenset(self._search(node, depth, False))
            self.balls[(node, depth)] = found
        return found

    def around(self, edge: int, depth: int) -> set[int] | None:
        if (edge, depth) not in self.regions:
            near = self.ball(self.net.tail[edge], depth)
            region = near | self.ball(self.net.head[edge], depth)
            self.regions[(edge, depth)] = None if len(region) == self.net.nodes else set(region)
        return self.regions[(edge, depth)]

    def widening(self, edge: int, depth: int) -> Iterator[set[int] | None]:
        """Where to look, in turn: the region ``depth`` steps around the edge, wider ones
        (``WIDER`` times two steps more), then everywhere (None)."""
        last: set[int] | None = None
        for more in range(WIDER + 1):
            region = self.around(edge, depth + 2 * more)
            if region is None:
                break
            if last is None or len(region) > len(last):
                yield region
            last = region
        yield None


def interval_of(edges: Sequence[Edge], secret: list[bool], edge: int, cap: int) -> tuple[int, int]:
    """(how far edge ``edge`` can fall, how far it can rise), together counted up to ``cap``,
    when the edges ``secret`` (and the unpublished ones) are unknown."""
    net = _Net.of(edges)
    free = net.adjacency(i for i, e in enumerate(edges) if secret[i] or not e.published)
    down, up, _moved, _fell = _interval(net, free, edge, cap)
    return down, up


# --------------------------------------------------------------------------- complements


def complements(
    edges: Sequence[Edge], secret: list[bool], threshold: int, zeros_shown: bool
) -> list[int]:
    """The edges to hide (by index, in the order chosen) so that every hidden one (``secret``,
    by edge; updated) is protected. Hiding more only widens the intervals, so a number once
    protected stays so and one pass in order suffices."""
    net = _Net.of(edges)
    levels = max(len(e.key[0]) for e in edges)
    chosen_all: list[int] = []
    free = net.adjacency(i for i, e in enumerate(edges) if secret[i] or not e.published)
    every = net.adjacency(range(len(edges)))
    regions = _Regions(net, every)
    circuits = _Circuits(net, every, secret, zeros_shown)
    queue = deque(i for i in range(len(edges)) if secret[i])
    witnesses = _Witnesses(net, threshold)

    def protected(edge: int, region: set[int] | None) -> tuple[bool, int, dict[int, int]]:
        if witnesses.protect(edge, region):
            return True, 0, {}
        down, up, moved, fell = _interval(net, free, edge, threshold, region)
        witnesses.add(edge, -down, fell)
        witnesses.add(edge, up, moved)
        return down + up >= threshold, threshold - down - up, moved

    while queue:
        edge = queue[0]
        depth = REGION_DEPTH + 2 * (levels - len(edges[edge].key[0]))
        done, chosen = False, []
        for region in regions.widening(edge, depth):
            done, need, moved = protected(edge, region)
            if done:
                break
            chosen = circuits.find(edge, (need, threshold), moved, region)
            chosen = chosen or circuits.find(edge, (1, threshold), moved, region)
            if chosen:
                break
        if done:
            queue.popleft()
            continue
        if not chosen:
            # no circuit left to open (not seen: the grand total's always is): the first visible
            fallback = next((i for i, e in enumerate(edges) if e.published and not secret[i]), None)
            chosen = [] if fallback is None else [fallback]
        if not chosen:  # everything is hidden already: nothing more can be done
            queue.popleft()
            continue
        for i in chosen:
            secret[i] = True
            chosen_all.append(i)
            net.attach(free, i)
            queue.append(i)
    return chosen_all


class _Circuits:
    """The cheapest visible numbers to hide so that an edge can rise (see :meth:`find`).

    A price is one integer ordered as the tuple (totals, shown zeros, how many, their sum):
    each part weighted above the largest the parts after it can reach on a path."""

    def __init__(self, net: _Net, every: list[list[Arc]], secret: list[bool], zeros_shown: bool):
        self.net, self.every, self.secret = net, every, secret
        edges = net.edges
        span = sum(net.value) + 1  # above any path's sum
        count = len(edges) + 1  # above any path's count of edges
        self.price = [
            (
                (
                    (int(e.key[1] is None or not e.key[0]) * count)
                    + int(e.value == 0 and zeros_shown)
                )
                * count
                + 1
            )
            * span
            + e.value
            for e in edges
        ]
        self.visible_base = [e.published for e in edges]

    def find(
        self,
        edge: int,
        need: tuple[int, int],
        moved: dict[int, int],
        region: set[int] | None = None,
    ) -> list[int]:
        """The cheapest visible numbers to hide so that ``edge`` can rise by ``need[0]`` more
        than it already can (the flow ``moved``, capped at ``need[1]``): a path back from its
        head to its tail in what that flow leaves, through a hidden number with room left, or
        a visible one increased (forward) or decreased by at least ``need[0]`` (backward);
        priced by the visible numbers it uses (totals dearest, then shown zeros, then how
        many, then their sum; ties by position). Empty when none."""
        least, limit = need
        net, secret, published, price = self.net, self.secret, self.visible_base, self.price
        value = net.value
        head, tail = net.head[edge], net.tail[edge]
        best: dict[int, int] = {head: 0}
        came: dict[int, tuple[int, int]] = {}
        heap: list[tuple[int, int]] = [(0, head)]
        done: set[int] = set()
        while heap:
            cost, node = heapq.heappop(heap)
            if node in done:
                continue
            done.add(node)
            if node == tail:
                break
            for nxt, via, forward in self.every[node]:
                if via == edge or nxt in done:
                    continue
                visible = published[via] and not secret[via]
                if visible:
                    room = limit if forward else value[via]
                else:
                    change = moved.get(via, 0)
                    room = limit - change if forward else value[via] + change
                if room < least:
                    continue
                if region is not None and nxt not in region:
                    continue
                new = cost + price[via] if visible else cost
                old = best.get(nxt)
                if old is None or new < old:
                    best[nxt] = new
                    came[nxt] = (node, via)
                    heapq.heappush(heap, (new, nxt))
        if tail not in came:
            return []
        chosen, node = [], tail
        while node != head:
            node, via = came[node]
            if published[via] and not secret[via]:
                chosen.append(via)
        return sorted(chosen)
