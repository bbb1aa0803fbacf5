"""Small-cell suppression on hand-made tables (issue 16 item 2): the primary cells, the
complements a reader needs to be kept from subtracting, linked tables, the zero policy."""

from __future__ import annotations

import pytest

from wellbeing.reports.suppression import (
    DEFAULT_THRESHOLD,
    Mark,
    ZeroPolicy,
    cell_id,
    interval,
    network,
    suppress,
)

TABLE = [
    (("A",), [25, 3, 1, 0]),
    (("B",), [30, 12, 15, 11]),
    (("C",), [40, 20, 10, 12]),
]


def test_small_cells_are_primary_and_a_circuit_of_complements_protects_them() -> None:
    result = suppress(TABLE, 4)
    assert result.threshold == DEFAULT_THRESHOLD == 10
    assert result.suppressed_keys() == ["A|0", "A|1", "A|2", "B|0", "B|1", "B|2"]
    assert result.marks[(("A",), 1)] is Mark.PRIMARY
    assert result.marks[(("B",), 0)] is Mark.COMPLEMENT
    assert result.shown((("A",), 1)) == "<10" and result.shown((("B",), 0)) == "*"
    # the zero stays shown (default policy) and every total stays published
    assert result.shown((("A",), 3)) == "0"
    assert result.shown((("A",), None)) == "29" and result.shown(((), None)) == "179"
    # each hidden number can move by at least the threshold
    edges = network(TABLE, 4, 1, True)
    hidden = {k for k in result.values if result.hidden(k)}
    down, up = interval(edges, hidden, (("A",), 2), 100)
    assert (down, up) == (1, 15)


def test_hiding_only_the_small_cells_would_leave_them_recoverable() -> None:
    edges = network(TABLE, 4, 1, True)
    down, up = interval(edges, {(("A",), 1), (("A",), 2)}, (("A",), 2), 100)
    assert down + up < 10  # 3 + 1 = 29 - 25 - 0: the pair is pinned between 0 and 4


def test_the_leak_example_a_class_with_one_severe_and_one_crisis() -> None:
    rows = [
        (("school", "g7", "7-1"), [28, 1, 1]),
        (("school", "g7", "7-2"), [30, 0, 0]),
        (("school", "g8", "8-1"), [31, 0, 0]),
    ]
    result = suppress(rows, 3)
    for key in [(("school", "g7", "7-1"), 1), (("school", "g7", "7-1"), 2)]:
        assert result.shown(key) == "<10"
    shown = [result.shown(k) for k in result.values]
    assert "1" not in shown and "2" not in shown
    # the linked tables one and two levels up hide the same two children
    assert result.shown((("school", "g7"), 1)) == "<10"
    assert result.shown((("school",), 1)) == "<10"


def test_linked_tables_the_district_schools_and_a_schools_grades() -> None:
    rows = [
        (("s1", "g7"), [40, 12]),
        (("s1", "g8"), [38, 4]),
        (("s2", "g7"), [50, 20]),
        (("s2", "g8"), [45, 25]),
    ]
    result = suppress(rows, 2)
    assert result.marks[(("s1", "g8"), 1)] is Mark.PRIMARY
    # s1's column 1 (16) = 12 + 4: the grade g7 cell must be hidden too, or the school total
    assert result.hidden((("s1", "g7"), 1)) or result.hidden((("s1",), 1))
    edges = network(rows, 2, 2, True)
    hidden = {k for k in result.values if result.hidden(k)}
    for key in hidden:
        down, up = interval(edges, hidden, key, 10)
        assert down + up >= 10


def test_zeros_follow_the_policy() -> None:
    rows = [(("A",), [0, 30]), (("B",), [20, 30])]
    assert not suppress(rows, 2).hidden((("A",), 0))
    hidden = suppress(rows, 2, zeros=ZeroPolicy.SUPPRESSED)
    assert hidden.marks[(("A",), 0)] is Mark.PRIMARY
    assert hidden.shown((("A",), 0)) == "<10"


def test_unpublished_row_totals_a_single_column() -> None:
    rows = [(("7-1",), [1]), (("7-2",), [14]), (("7-3",), [22])]
    result = suppress(rows, 1, row_totals=False)
    assert result.shown((("7-1",), 0)) == "<10"
    assert result.shown((("7-2",), 0)) == "*"  # the smallest other cell of the column
    assert result.shown((("7-3",), 0)) == "22"
    assert (("7-1",), None) not in result.values


def test_shares_and_published_cells() -> None:
    result = suppress(TABLE, 4)
    assert result.percent((("A",), 1), (("A",), None)) is None
    assert result.percent((("C",), 0), (("C",), None)) == pytest.approx(40 / 82)
    published = result.published()
    assert published["A|1"] is None and published["C|0"] == 40
    assert cell_id(((), None)) == "|total"


def test_a_threshold_from_configuration_and_bad_input() -> None:
    result = suppress(TABLE, 4, threshold=3)
    assert result.shown((("A",), 2)) == "<3"
    assert result.marks[(("A",), 1)] is not Mark.PRIMARY  # 3 is not below 3
    with pytest.raises(ValueError):
        suppress(TABLE, 4, threshold=0)
    with pytest.raises(ValueError):
        suppress([(("A",), [-1])], 1)
    with pytest.raises(ValueError):
        suppress([(("A",), [1, 2])], 1)
    assert suppress([], 2).values[((), None)] == 0
