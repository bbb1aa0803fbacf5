"""What the person at the screen is told about the throttles on failed attempts.

Flask-Limiter counts failed sign-ins, TOTP codes and re-authentications per network address
and per account (the username as typed, so an unknown username is counted, and told, exactly
like a real one). These helpers read the limiter's windows for the current request so that a
failure says how many attempts are left, and a refusal says until when signing in is paused.
"""

from __future__ import annotations

import datetime as dt
import math
import time

from flask_babel import format_datetime, ngettext
from flask_babel import gettext as _

from ..extensions import limiter

# A warning appears once at most this many attempts are left (or half the limit, if larger).
WARN_BELOW = 3


def paused_until() -> dt.datetime:
    """When the breached limit of this request lets the next attempt through."""
    current = limiter.current_limit
    reset = current.reset_at if current is not None else time.time() + 60
    return dt.datetime.fromtimestamp(max(reset, time.time() + 1), tz=dt.UTC)


def paused_message(signing_in: bool) -> str:
    """The refusal: the same words whichever counter ran out, and whether or not the username
    exists. ``signing_in`` picks the sign-in wording; otherwise it is a re-authentication."""
    until = paused_until()
    # The window's end is rounded up to the next second: do not turn 60.4 s into "2 minutes".
    minutes = max(1, math.ceil((until.timestamp() - time.time() - 2) / 60))
    at = format_datetime(until, "HH:mm")
    if signing_in:
        return ngettext(
            "Too many failed attempts with this username or from this network. For your "
            "security, signing in is paused for %(num)d minute, until %(time)s. Please try "
            "again then.",
            "Too many failed attempts with this username or from this network. For your "
            "security, signing in is paused for %(num)d minutes, until %(time)s. Please try "
            "again then.",
            minutes,
            time=at,
        )
    return ngettext(
        "Too many failed attempts to confirm who you are. For your security, please wait "
        "%(num)d minute, until %(time)s, and try again.",
        "Too many failed attempts to confirm who you are. For your security, please wait "
        "%(num)d minutes, until %(time)s, and try again.",
        minutes,
        time=at,
    )


def failure_warning() -> str | None:
    """After a failed attempt (not yet counted: the limiter deducts after the response), the
    warning to add when few attempts are left, or None."""
    limits = limiter.current_limits
    if not limits:
        return None
    tightest = min(limits, key=lambda lim: lim.remaining)
    left = tightest.remaining - 1
    amount = tightest.limit.amount
    if left > max(WARN_BELOW, amount // 2):
        return None
    window = max(1, math.ceil(tightest.limit.get_expiry() / 60))
    if left <= 0:
        until = dt.datetime.fromtimestamp(tightest.reset_at, tz=dt.UTC)
        return _(
            "For your security, further attempts are now paused until %(time)s.",
            time=format_datetime(until, "HH:mm"),
        )
    return ngettext(
        "%(num)d more failed attempt, and further attempts will be paused for up to %(minutes)d "
        "minutes.",
        "%(num)d more failed attempts, and further attempts will be paused for up to %(minutes)d "
        "minutes.",
        left,
        minutes=window,
    )
