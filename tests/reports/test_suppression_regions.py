"""Small-cell suppression on district-wide tables (issue 16 items 2 and 6): the searches that
keep a district's table by class fast (regions that stop at the hubs, the root of the rows and
of each column; wider regions before the whole network; intervals seen on the way) must leave
every hidden number as well protected as a search of the whole network would.

The bounds are solved by linear programming, as in ``test_suppression_properties``."""

from __future__ import annotations

import random
from collections.abc import Hashable
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from wellbeing.reports import suppression_search
from wellbeing.reports.suppression import Mark, ZeroPolicy, cell_id, interval, network, suppress

from .test_suppression_properties import Rows, _check_intervals, tables


@st.composite
def wide_tables(draw: st.DrawFn) -> tuple[Rows, int]:
    """More schools than a hub's arcs (``_Regions.HUB``): the district's rows and columns
    become hubs, as in a real district."""
    columns = draw(st.integers(1, 3))
    counts = st.one_of(st.integers(0, 3), st.integers(0, 12), st.integers(10, 40))
    rows: Rows = []
    for s in range(
        draw(st.integers(suppression_search._Regions.HUB, suppression_search._Regions.HUB + 3))
    ):
        for g in range(draw(st.integers(1, 2))):
            path: tuple[Hashable, ...] = (f"s{s}", f"g{g}")
            rows.append((path, [draw(counts) for _ in range(columns)]))
    return rows, columns


@settings(max_examples=8, deadline=None)
@given(wide_tables(), st.sampled_from([3, 10]))
def test_a_wide_table_keeps_every_interval(table: tuple[Rows, int], threshold: int) -> None:
    rows, columns = table
    _check_intervals(rows, columns, threshold, ZeroPolicy.SHOWN)


@settings(max_examples=40, deadline=None)
@given(tables(), st.sampled_from([3, 10]), st.sampled_from(list(ZeroPolicy)), st.booleans())
def test_with_hubs_everywhere_every_interval_holds(
    table: tuple[Rows, int], threshold: int, zeros: ZeroPolicy, row_totals: bool
) -> None:
    """Every node with more than two arcs a hub: the regions shrink to almost nothing, so
    nearly every number goes through the wider regions and the whole network."""
    rows, columns = table
    with mock.patch.object(suppression_search._Regions, "HUB", 2):
        _check_intervals(rows, columns, threshold, zeros, row_totals)
        first = suppress(rows, columns, threshold=threshold, zeros=zeros, row_totals=row_totals)
        again = suppress(rows, columns, threshold=threshold, zeros=zeros, row_totals=row_totals)
    assert first.marks == again.marks


def test_a_class_is_protected_inside_its_own_school() -> None:
    """One class with a small count in a district of 20 schools: the complements stay in its
    school (its grade and a sibling class), none in another school's rows."""
    rows: Rows = []
    for s in range(20):
        for g in range(2):
            for c in range(2):
                rows.append(((f"s{s}", g, c), [30 + s, 20 + g, 15 + c]))
    rows[17] = (("s4", 0, 1), [30, 4, 15])  # the small count
    result = suppress(rows, 3)
    assert result.marks[(("s4", 0, 1), 1)] is Mark.PRIMARY
    hidden = [key for key in result.values if result.hidden(key)]
    assert len(hidden) >= 4
    assert all(prefix[:1] == ("s4",) for prefix, _column in hidden)
    # the linked tables (the school's grades, the district's schools) are protected too
    _check_intervals(rows, 3, 10, ZeroPolicy.SHOWN)


def test_the_same_district_gives_the_same_pattern() -> None:
    rows: Rows = [
        ((f"s{s}", g, c), [(7 * s + 3 * g + c) % 23, (5 * s + g) % 13, 25 + c])
        for s in range(24)
        for g in range(3)
        for c in range(2)
    ]
    first = suppress(rows, 3)
    again = suppress([(path, list(counts)) for path, counts in rows], 3)
    assert first.marks == again.marks
    assert any(mark is Mark.COMPLEMENT for mark in first.marks.values())


def test_a_district_slice_every_hidden_number_moves_by_the_threshold() -> None:
    """A seeded slice of a district by class (20 schools, counts drawn as in a real one: most
    cells 10 or more, some 1..9, zeros), each hidden number checked by a maximum flow through
    the whole network (``suppression.interval``: no region, nothing remembered)."""
    rng = random.Random(16)
    rows: Rows = []
    for s in range(20):
        for g in range(3):
            for c in range(rng.choice((1, 2, 3))):
                small = [0 if rng.random() < 0.3 else rng.randint(1, 9) for _ in range(2)]
                rows.append(((f"s{s}", g, c), [rng.randint(20, 45), rng.randint(5, 20), *small]))
    result = suppress(rows, 4)
    hidden = {key for key in result.values if result.hidden(key)}
    assert len(hidden) > 100
    edges = network(rows, 4, 3, True)
    for key in sorted(hidden, key=cell_id):
        down, up = interval(edges, hidden, key, 10)
        assert down + up >= 10, key
