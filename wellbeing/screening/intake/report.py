"""What an intake reports: per-row errors (``row N, column C: message``) and the counts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

MAX_ERRORS = 1000
TIER_NAMES = ("green", "yellow", "orange", "red")


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.message}"


@dataclass
class Report:
    rows_total: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    errors_truncated: int = 0
    created: int = 0
    unchanged: int = 0
    tiers: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    critical: int = 0
    # For the API: per entry, the response id (new or already recorded) and whether it is new.
    results: dict[int, tuple[uuid.UUID, bool]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.errors_truncated

    def add_error(self, error: RowError) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error)
        else:
            self.errors_truncated += 1

    def summary_lines(self) -> list[str]:
        tiers = " ".join(f"{name}={n}" for name, n in zip(TIER_NAMES, self.tiers, strict=True))
        return [
            f"rows: {self.rows_total}",
            f"responses created: {self.created}",
            f"unchanged (already recorded): {self.unchanged}",
            f"tiers: {tiers}",
            f"critical: {self.critical}",
        ]
