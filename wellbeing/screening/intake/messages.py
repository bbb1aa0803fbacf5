"""The screening import's messages in the user's language, for the upload page.

The importer, the intake and the API's row checks report short English messages per row (see
:mod:`.pipeline`, :class:`.report.RowError`); the CLI and the API's JSON keep them as they are.
They stay English strings by design: a file's rows are reported by the thousand, collected in
a report the CLI prints and the API returns, and read by machines (tests, survey platforms);
the upload page translates each one here when it shows it. Refusals of a whole intake are
:class:`~wellbeing.screening.errors.IntakeError` (lazy msgids); their English is also listed
here because a held answer's stored reason is that English text. Student-number problems
(:func:`~wellbeing.students.roster.parse_student_number`) and unreadable files
(:class:`~wellbeing.core.tabular.TabularError`) fall back to the roster import's catalog.
"""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ...core.messages import MessageCatalog
from ...students.messages import ROSTER_MESSAGES
from ..engine.instruments import builtin_instruments


def instrument_names(codes: str, locale: str | None = None) -> str:
    """``"phq9, gad7"`` → ``"PHQ-9（…）、GAD-7（…）"`` in the current locale (unknown codes stay)."""
    installed = builtin_instruments()
    loc = locale or str(get_locale() or "zh_CN")
    names = []
    for code in (c.strip() for c in codes.split(",")):
        inst = installed.get(code)
        names.append(inst.name.get(loc) if inst is not None else code)
    return ("、" if loc.startswith("zh") else ", ").join(names)


_EXACT = {
    # file layout (importer)
    "column not in the mapping, ignored": _l("column not in the mapping, ignored"),
    "unknown column": _l("unknown column"),
    "missing required column student_number (学号)": _l(
        "missing required column student_number (学号)"
    ),
    "missing column school_code: the campaign covers several schools": _l(
        "missing column school_code: the campaign covers several schools"
    ),
    "no item columns of this campaign's instruments": _l(
        "no item columns of this campaign's instruments"
    ),
    "no answers in this row": _l("no answers in this row"),
    # students and schools (intake)
    "unknown student number for this school": _l("unknown student number for this school"),
    "unknown student": _l("unknown student"),
    "student is not at a school of this campaign you may enter for": _l(
        "student is not at a school of this campaign you may enter for"
    ),
    "student is not active": _l("student is not active"),
    "student's grade is not part of this campaign": _l(
        "student's grade is not part of this campaign"
    ),
    "school is not part of this campaign": _l("school is not part of this campaign"),
    "required: the campaign covers several schools": _l(
        "required: the campaign covers several schools"
    ),
    "you may not enter responses for this school": _l(
        "you may not enter responses for this school"
    ),
    "key already used for another response": _l("key already used for another response"),
    # the campaign refuses the file (IntakeError)
    "the campaign is not open for responses": _l("the campaign is not open for responses"),
    # entries sent to the API (services.check_entries)
    "must be an object": _l("must be an object"),
    "required: a string of 1 to 100 characters": _l("required: a string of 1 to 100 characters"),
    "must be a string": _l("must be a string"),
    "not an instrument of this campaign": _l("not an instrument of this campaign"),
    "must be an object of item codes to values": _l("must be an object of item codes to values"),
    "unknown item": _l("unknown item"),
    "no answers": _l("no answers"),
}

_PATTERNS = (
    (r"not an allowed answer \((.+)\)",
     lambda m: _("not an allowed answer (%(allowed)s)", allowed=m[1])),
    (r"duplicate student \(first seen on row (\d+)\)",
     lambda m: _("duplicate student (first seen on row %(row)s)", row=m[1])),
    (r"duplicate student \(first seen on entry (\d+)\)",
     lambda m: _("duplicate student (first seen on entry %(entry)s)", entry=m[1])),
    (r"duplicate key \(first seen on entry (\d+)\)",
     lambda m: _("duplicate key (first seen on entry %(entry)s)", entry=m[1])),
    (r"a different (\S+) response is already recorded for this student",
     lambda m: _("a different %(instrument)s response is already recorded for this student",
                 instrument=instrument_names(m[1]))),
    (r"instrument (\S+) is not part of this campaign",
     lambda m: _("instrument %(instrument)s is not part of this campaign", instrument=instrument_names(m[1]))),
    (r"missing columns for (\S+)",
     lambda m: _("missing columns for %(instrument)s", instrument=instrument_names(m[1]))),
    # Why held answers were not recorded (``HeldAnswers.reason``, stored in English):
    # IntakeError's English (``instrument phq9 is not installed``) and, on older rows, the
    # intake's earlier wording (``instrument 'phq9' is not installed``).
    (r"instrument '?([^'\s]+)'? is not installed",
     lambda m: _("instrument %(instrument)s is not installed", instrument=instrument_names(m[1]))),
    # The detail is the policy checker's English; the district administrator sees it there.
    (r"(?s)the district's tier rules for (\S+) are invalid: .*",
     lambda m: _("the district's tier rules for %(instrument)s are invalid", instrument=instrument_names(m[1]))),
    (r"no column mapping named [“'](.*)[”']",
     lambda m: _("no column mapping named “%(name)s”", name=m[1])),
)  # fmt: skip

SCREENING_MESSAGES = MessageCatalog(_EXACT, _PATTERNS, fallback=ROSTER_MESSAGES)


def translate_message(message: str) -> str:
    """A message of the screening import (a row error, a warning or why the file was
    refused) in the current locale; unknown messages are returned as they are."""
    return SCREENING_MESSAGES(message)


__all__ = ["SCREENING_MESSAGES", "instrument_names", "translate_message"]
