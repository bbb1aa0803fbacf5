"""Roster import messages in the user's language (see :mod:`wellbeing.core.messages`)."""

from __future__ import annotations

import re

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..core.messages import TABULAR, MessageCatalog
from .roster import CHINESE_COLUMN_NAMES


def _columns(text: str) -> str:
    """Column names in the reader's language: "grade (年级), class (班级)" or "grade" reads
    年级、班级 / 年级 in Chinese (no field code shown), and stays as it is in English."""
    locale = get_locale()
    if locale is None or str(locale).startswith("en"):
        return text
    names = []
    for part in text.split(","):
        part = part.strip()
        match = re.fullmatch(r"\w+ \((.+)\)", part)
        names.append(match[1] if match else CHINESE_COLUMN_NAMES.get(part, part))
    return "、".join(names)


# Roster messages are English codes from roster.py (table ones from tabular.py fall back to
# core.messages); these make them translatable without putting cell values into any message.
ROSTER_MESSAGES = MessageCatalog(
    {
        "required": _l("required"),
        "class label is too long": _l("class label is too long"),
        "contains invalid characters": _l("contains invalid characters"),
        "date must be between 1990-01-01 and today": _l("date must be between 1990-01-01 and today"),
        "grade must be between 1 and 12": _l("grade must be between 1 and 12"),
        "national ID check digit does not match": _l("national ID check digit does not match"),
        "national ID must be 17 digits and a check digit": _l(
            "national ID must be 17 digits and a check digit"
        ),
        "national ID must start with 17 digits": _l("national ID must start with 17 digits"),
        "not a recognised grade": _l("not a recognised grade"),
        "not a recognised value for sex": _l("not a recognised value for sex"),
        "not a valid date": _l("not a valid date"),
        "not a valid phone number": _l("not a valid phone number"),
        "student number is too long": _l("student number is too long"),
        "student number may only contain letters, digits, - and _": _l(
            "student number may only contain letters, digits, - and _"
        ),
        "name is too long": _l("name is too long"),
        "guardian name is too long": _l("guardian name is too long"),
        "file has no data rows": _l("file has no data rows"),
        "unknown column ignored": _l("unknown column ignored"),
        "duplicate student number (differs only in letter case or width)": _l(
            "duplicate student number (differs only in letter case or width)"
        ),
    },
    [
        (r"duplicate student number \(first seen on row (\d+)\)",
         lambda m: _("duplicate student number (first seen on row %(row)s)", row=m[1])),
        (r"missing required columns: (.+)",
         lambda m: _("missing required columns: %(columns)s", columns=_columns(m[1]))),
        (r"more than one column for (.+)",
         lambda m: _("more than one column for %(field)s", field=_columns(m[1]))),
    ],
    fallback=TABULAR,
)  # fmt: skip

__all__ = ["ROSTER_MESSAGES"]
