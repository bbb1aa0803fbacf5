"""A minimal RFC 5545 writer for the agenda feed: no names, no details, one link."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

CRLF = "\r\n"


@dataclass(frozen=True)
class FeedEvent:
    uid: str
    start: dt.datetime
    minutes: int = 30


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
        lines += [
            "BEGIN:VEVENT",
            f"UID:{event.uid}",
            f"DTSTAMP:{_utc(now)}",
            f"DTSTART:{_utc(event.start)}",
            f"DTEND:{_utc(event.start + dt.timedelta(minutes=event.minutes))}",
            f"SUMMARY:{escape_text(summary)}",
            f"URL:{url}",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines)
