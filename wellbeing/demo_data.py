"""The demo district's schools and seed steps, below both :mod:`.demo` (which seeds them) and
:mod:`.demo_cases` (the cases that extend the seed), so neither imports the other back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .config import Settings
from .db import Database

SEED = 20250901


@dataclass(frozen=True)
class DemoSchool:
    code: str
    name: str
    prefix: str  # username prefix and student-number prefix
    grades: tuple[int, ...]
    classes_per_grade: int = 2


SCHOOLS = (
    DemoSchool("demo-primary", "阳光小学", "primary", (4, 5, 6)),
    DemoSchool("demo-junior", "第一初级中学", "junior", (7, 8, 9)),
    DemoSchool("demo-senior", "第一高级中学", "senior", (10, 11, 12)),
)


SeedStep = Callable[[Database, Settings], None]
# Later modules append their idempotent steps here (screenings, tiers, concerns, ...).
SEED_STEPS: list[SeedStep] = []
