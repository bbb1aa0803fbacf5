"""What an intake has seen so far: each student's first row, the instruments answered and the
tier counted for them, so that a student on two rows for the same instrument is an error, a
student on several rows for different instruments (survey platforms send one instrument per
entry) is fine, and their tier decision is the highest over those rows, counted once.

A district import sees 300,000 students: per student one packed int (low bits first: one bit
per instrument, 4 bits for the tier counted + 1, then the first row), plus a small dict of later
rows per (student, instrument) only for students on several rows.
"""

from __future__ import annotations

from typing import Any


class Seen:
    def __init__(self, instruments: list[str]) -> None:
        self.index = {code: n for n, code in enumerate(instruments)}
        self._mask = (1 << len(instruments)) - 1
        self._tier_shift = len(instruments)
        self._row_shift = self._tier_shift + 4
        self._first: dict[Any, int] = {}
        self._later: dict[tuple[Any, int], int] = {}

    def add(self, student: Any, row: int, codes: Any) -> int | None:
        """Record ``student``'s answers to ``codes`` on ``row``; returns the row that already
        gave one of those instruments (a duplicate), else None."""
        mask = 0
        for code in codes:
            mask |= 1 << self.index[code]
        first = self._first.get(student)
        if first is None:
            self._first[student] = row << self._row_shift | mask
            return None
        if first >> self._row_shift == row:
            return None
        clash = first & mask & self._mask
        if clash:
            bit = (clash & -clash).bit_length() - 1
            return self._later.get((student, bit), first >> self._row_shift)
        self._later.update(((student, self.index[code]), row) for code in codes)
        self._first[student] = first | mask
        return None

    def raise_tier(self, student: Any, tier: int) -> int | None:
        """Count ``tier`` for ``student`` if it is higher than what earlier rows counted;
        returns the tier it replaces (-1: none counted yet), or None when it is not higher."""
        packed = self._first[student]
        counted = (packed >> self._tier_shift) & 0xF  # tier + 1; 0: none yet
        if tier + 1 <= counted:
            return None
        self._first[student] = packed & ~(0xF << self._tier_shift) | (tier + 1) << self._tier_shift
        return counted - 1
