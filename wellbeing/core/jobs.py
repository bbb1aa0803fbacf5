"""Periodic jobs declared by modules: ``wellbeing/<module>/jobs.py`` exports ``JOBS`` (a list
of :class:`Job`), found by ``wellbeing.modules`` like every part a module contributes.

The scheduler stores only the dotted path of a job function, never live objects, so the
persistent job store can be read by any process. A job function takes a :class:`JobContext`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..db import Database


@dataclass(frozen=True)
class Job:
    id: str  # stable id in the job store, e.g. "risk.escalation_scan"
    func: str  # "wellbeing.risk.jobs:escalation_scan"
    seconds: int | None = None  # interval trigger
    cron: dict[str, Any] | None = None  # cron trigger fields, e.g. {"hour": 7, "minute": 0}


@dataclass(frozen=True)
class JobContext:
    db: Database
    settings: Settings
    now: dt.datetime  # the scheduled run time (UTC); tests pass a controlled clock
