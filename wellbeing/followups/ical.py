"""A minimal RFC 5545 writer for the agenda feed: no names, no details, one link."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

CRLF = "\r\n"


@dataclass(frozen=True)
class FeedEvent:
    """A timed event (``start``, ``minutes``), or an all-day one (``day``: a due date).
    ``summary`` and ``url`` replace the calendar's own for this event (other modules' items,
    registered in :mod:`.agenda`)."""

    uid: str
    start: dt.datetime | None = None
    minutes: int = 30
    day: dt.date | None = None
    summary: str | None = None
    url: str | None = None


def escape_text(value: str) -> str:
    """TEXT escaping (RFC 5545 §3.3.11)."""
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """Fold a content line at 75 octets (§3.1), never inside a UTF-8 sequence."""
    out: list[str] = []
    current, size = "", 0
    for char in line:
        width = len(char.encode())
        limit = 75 if not out else 74  # continuation lines start with one space
        if size + width > limit:
            out.append(current)
            current, size = "", 0
        current += char
        size += width
    out.append(current)
    return (CRLF + " ").join(out)


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(
    events: Iterable[FeedEvent], *, summary: str, url: str, name: str, now: dt.datetime
) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Wellbeing//Agenda//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
    ]
    for event in events:
        if event.day is not None:
            end = event.day + dt.timedelta(days=1)
            when = [f"DTSTART;VALUE=DATE:{event.day:%Y%m%d}", f"DTEND;VALUE=DATE:{end:%Y%m%d}"]
        else:
            assert event.start is not None  # noqa: S101 (a timed event has its start)
            finish = event.start + dt.timedelta(minutes=event.minutes)
            when = [f"DTSTART:{_utc(event.start)}", f"DTEND:{_utc(finish)}"]
        lines += [
            "BEGIN:VEVENT",
            f"UID:{event.uid}",
            f"DTSTAMP:{_utc(now)}",
            *when,
            f"SUMMARY:{escape_text(event.summary or summary)}",
            f"URL:{event.url or url}",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines)
