"""The domain modules, in dependency order. Each may have models, views (``bp``), cli
(``group``) and jobs (``JOBS``); the app, the CLI and the scheduler discover them here."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

MODULES = (
    "keys", "orgs", "auth", "students", "audit", "notify", "risk", "alerts", "screening",
    "concerns", "crisis", "followups", "plans", "notes", "referrals", "reports", "api",
)  # fmt: skip


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"wellbeing.{name}")
    except ModuleNotFoundError as exc:
        if exc.name in {f"wellbeing.{name}", f"wellbeing.{name.split('.')[0]}"}:
            return None
        raise


def import_models() -> None:
    """Import every module's models so ``Base.metadata`` is complete."""
    for name in MODULES:
        _optional(f"{name}.models")


def import_services() -> None:
    """Import every module's services so event subscriptions are in place."""
    import_models()
    for name in MODULES:
        _optional(f"{name}.services")


def iter_parts(part: str, attribute: str) -> Iterator[Any]:
    for name in MODULES:
        module = _optional(f"{name}.{part}")
        if module is not None and hasattr(module, attribute):
            yield getattr(module, attribute)
