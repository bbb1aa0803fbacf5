"""The schools' calendar day. Campaign dates (opens_on, closes_on) are local dates in the
configured time zone (Asia/Shanghai by default); from 00:00 to 08:00 in Shanghai the UTC date
is still yesterday, so a campaign "opened" or "closed" eight hours late on a UTC date."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from flask import current_app, has_app_context

from ..config import Settings
from ..db import utcnow


def school_tz() -> zoneinfo.ZoneInfo:
    """The configured time zone (the app's settings in a request or app context)."""
    if has_app_context() and "wellbeing.settings" in current_app.extensions:
        return current_app.extensions["wellbeing.settings"].tz
    return Settings().tz


def local_today(now: dt.datetime | None = None) -> dt.date:
    """The local date at ``now`` (default: the present)."""
    return (now or utcnow()).astimezone(school_tz()).date()


__all__ = ["local_today", "school_tz"]
