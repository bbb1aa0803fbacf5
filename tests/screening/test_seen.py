"""The intake's packed bookkeeping of students, instruments and counted tiers behaves like the
plain model: first row per (student, instrument), highest tier per student."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wellbeing.screening.intake.seen import Seen

INSTRUMENTS = ["phq9", "gad7", "sdq"]
rows = st.lists(
    st.tuples(
        st.integers(0, 4),  # student
        st.sets(st.sampled_from(INSTRUMENTS), min_size=1),  # instruments on the row
        st.integers(0, 3),  # the row's tier
    ),
    max_size=40,
)


@given(rows)
def test_seen_matches_the_plain_model(entries: list[tuple[int, set[str], int]]) -> None:
    seen = Seen(INSTRUMENTS)
    first_row: dict[tuple[int, str], int] = {}
    counted: dict[int, int] = {}
    for n, (student, codes, tier) in enumerate(entries, start=2):
        clashes = [
            first_row[(student, c)] for c in INSTRUMENTS if c in codes and (student, c) in first_row
        ]
        duplicate = seen.add(student, n, sorted(codes, key=INSTRUMENTS.index))
        if clashes:
            # the row that first gave the first clashing instrument (instrument order)
            assert duplicate == clashes[0]
            continue  # a duplicate row is an error: its answers are not counted
        assert duplicate is None
        for code in codes:
            first_row[(student, code)] = n
        replaced = seen.raise_tier(student, tier)
        if tier > counted.get(student, -1):
            assert replaced == counted.get(student, -1)
            counted[student] = tier
        else:
            assert replaced is None
