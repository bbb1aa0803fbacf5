"""Property tests of small-cell suppression (issue 16 item 2), over random tables.

The bounds are solved by linear programming (``scipy.optimize.linprog``) on a model written
here independently of the module's flow network: one variable per leaf cell (non-negative),
each published number the sum of the leaf cells under its row prefix and column, each visible
number an equality. The continuous relaxation gives the integer bounds: the constraint matrix
is a row hierarchy (a laminar family of row sets: a school's grades, a grade's classes) crossed
with the columns, the incidence matrix of a network, which is totally unimodular, so every
vertex of the polytope, and so every optimum of a linear objective, is integral.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from wellbeing.reports.suppression import Key, Mark, ZeroPolicy, suppress

Rows = list[tuple[tuple[Hashable, ...], list[int]]]


def _counts() -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 3), st.integers(0, 12), st.integers(10, 40))


@st.composite
def tables(draw: st.DrawFn) -> tuple[Rows, int]:
    columns = draw(st.integers(1, 4))
    depth = draw(st.integers(1, 3))  # schools; their grades; the grades' classes
    rows: Rows = []
    for s in range(draw(st.integers(1, 3))):
        for g in range(draw(st.integers(1, 3)) if depth >= 2 else 1):
            for c in range(draw(st.integers(1, 2)) if depth == 3 else 1):
                path: tuple[Hashable, ...] = (f"s{s}", f"g{g}", f"c{c}")[:depth]
                rows.append((path, [draw(_counts()) for _ in range(columns)]))
    return rows, columns


def _coefficients(rows: Rows, columns: int, key: Key) -> np.ndarray:
    prefix, column = key
    coef = np.zeros(len(rows) * columns)
    for r, (path, _counts) in enumerate(rows):
        if path[: len(prefix)] == prefix:
            for c in range(columns):
                if column is None or column == c:
                    coef[r * columns + c] = 1
    return coef


def _bounds(rows: Rows, columns: int, visible: dict[Key, int], key: Key) -> tuple[float, float]:
    a_eq = np.array([_coefficients(rows, columns, k) for k in visible]) if visible else None
    b_eq = np.array(list(visible.values()), dtype=float) if visible else None
    objective = _coefficients(rows, columns, key)
    low = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    high = linprog(-objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    assert low.status == 0
    top = float("inf") if high.status == 3 else -high.fun
    return low.fun, top


def _check_intervals(
    rows: Rows, columns: int, threshold: int, zeros: ZeroPolicy, row_totals: bool = True
) -> None:
    result = suppress(rows, columns, threshold=threshold, zeros=zeros, row_totals=row_totals)
    visible = {k: v for k, v in result.values.items() if not result.hidden(k)}
    for key in result.values:
        if result.hidden(key):
            low, high = _bounds(rows, columns, visible, key)
            assert low <= result.values[key] <= high
            assert high - low >= threshold - 1e-6, (key, result.values[key], low, high)


@settings(max_examples=60, deadline=None)
@given(tables(), st.sampled_from([3, 5, 10]))
def test_every_hidden_number_keeps_an_interval_of_the_threshold(
    table: tuple[Rows, int], threshold: int
) -> None:
    rows, columns = table
    _check_intervals(rows, columns, threshold, ZeroPolicy.SHOWN)


@settings(max_examples=30, deadline=None)
@given(tables())
def test_hidden_zeros_too_keep_their_interval(table: tuple[Rows, int]) -> None:
    rows, columns = table
    _check_intervals(rows, columns, 10, ZeroPolicy.SUPPRESSED)


@settings(max_examples=30, deadline=None)
@given(tables())
def test_tables_whose_row_totals_are_not_published(table: tuple[Rows, int]) -> None:
    """The critical-item column: one count a row, no row total beside it (it is the cell)."""
    rows, columns = table
    _check_intervals(rows, columns, 10, ZeroPolicy.SHOWN, row_totals=False)


@settings(max_examples=60, deadline=None)
@given(tables(), st.sampled_from(list(ZeroPolicy)))
def test_no_visible_number_is_below_the_threshold_and_small_ones_are_primary(
    table: tuple[Rows, int], zeros: ZeroPolicy
) -> None:
    rows, columns = table
    result = suppress(rows, columns, zeros=zeros)
    for key, value in result.values.items():
        small = 0 < value < 10 or (value == 0 and zeros is ZeroPolicy.SUPPRESSED)
        if small:
            assert result.marks[key] is Mark.PRIMARY
            assert result.shown(key) == "<10"
        elif not result.hidden(key):
            assert result.shown(key) == str(value)
        else:
            assert result.marks[key] is Mark.COMPLEMENT and result.shown(key) == "*"


@settings(max_examples=40, deadline=None)
@given(tables())
def test_the_same_data_gives_the_same_pattern(table: tuple[Rows, int]) -> None:
    rows, columns = table
    first = suppress(rows, columns)
    again = suppress([(path, list(counts)) for path, counts in rows], columns)
    assert first.marks == again.marks
    assert first.published() == again.published()


@settings(max_examples=40, deadline=None)
@given(tables())
def test_shares_of_hidden_numbers_are_hidden(table: tuple[Rows, int]) -> None:
    rows, columns = table
    result = suppress(rows, columns)
    for (prefix, column), _value in result.values.items():
        if column is None:
            continue
        share = result.percent((prefix, column), (prefix, None))
        if result.hidden((prefix, column)) or result.hidden((prefix, None)):
            assert share is None
