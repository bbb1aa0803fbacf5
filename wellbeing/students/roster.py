"""Roster files: header matching, cell parsing and streaming validation (no database).

A school uploads its roster as CSV or XLSX exported from its own system, with Chinese or English
headers. Import is two passes over the file: :func:`validate_roster` reports every problem at
once, then :func:`iter_roster` yields the parsed rows for the import itself. Neither pass holds
the rows in memory; validation keeps only ``student_number -> first row`` and the set of classes.

Messages are short English strings (translated by the caller) that never contain a cell's
value: the roster is personal data, and errors end up in flash messages and logs.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..core.tabular import open_table

REQUIRED = ("student_number", "name", "sex", "birth_date", "grade", "class")
OPTIONAL = ("national_id", "guardian_name", "guardian_phone")
MAX_ERRORS = 1000
EARLIEST_BIRTH_DATE = dt.date(1990, 1, 1)

_ALIASES: dict[str, tuple[str, ...]] = {
    "student_number": ("student_number", "student_no", "student_id", "学号"),
    "name": ("name", "student_name", "姓名", "学生姓名"),
    "sex": ("sex", "gender", "性别"),
    "birth_date": ("birth_date", "date_of_birth", "birthday", "dob", "出生日期", "出生年月日"),
    "grade": ("grade", "年级"),
    "class": ("class", "class_label", "class_name", "班级", "班级名称"),
    "national_id": ("national_id", "id_number", "身份证号", "身份证号码", "身份证"),
    "guardian_name": ("guardian_name", "guardian", "监护人", "监护人姓名"),
    "guardian_phone": ("guardian_phone", "监护人电话", "监护人手机", "联系电话"),
}
# The first Chinese alias names a missing column in error messages: "grade (年级)".
CHINESE_COLUMN_NAMES = {
    f: next(a for a in aliases if not a.isascii()) for f, aliases in _ALIASES.items()
}


def _header_key(text: str) -> str:
    """``" Student-Number "`` and ``"student number"`` both become ``"student_number"``."""
    folded = unicodedata.normalize("NFKC", text).strip().casefold()
    return re.sub(r"[\s\-_]+", "_", folded)


_FIELD_BY_KEY = {_header_key(a): f for f, aliases in _ALIASES.items() for a in aliases}


# Why these two are not DomainErrors: the parser's messages are data, not refusals. Each one
# becomes a ``RowError`` (row, column, English message) collected into an import's result,
# written to its CSV report and shown on the import page translated by ``ROSTER_MESSAGES``
# (students/messages.py, a MessageCatalog that also reads messages with numbers in them).
# Keeping them English and translating them where they are shown lets one result be read in
# either language and keeps the CLI and the report stable; a lazy template would be rendered
# once, in whichever language the import ran in.


class FieldError(ValueError):
    """A cell does not hold a valid value. The message never contains the value."""


class RosterError(ValueError):
    """Raised by :func:`iter_roster` on the first problem; carries it as ``error``."""

    def __init__(self, error: RowError) -> None:
        super().__init__(f"row {error.row}, column {error.column}: {error.message}")
        self.error = error


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass(frozen=True, slots=True)
class RosterRow:
    row: int
    student_number: str
    name: str
    sex: str
    birth_date: dt.date
    grade: int
    class_label: str
    national_id: str | None
    guardian_name: str | None
    guardian_phone: str | None


@dataclass
class RosterReport:
    rows_total: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    classes: set[tuple[int, str]] = field(default_factory=set)
    errors_truncated: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and not self.errors_truncated

    def add_error(self, error: RowError) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error)
        else:
            self.errors_truncated += 1


# --- cell parsers ---------------------------------------------------------------------------


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in {"Cc", "Cf", "Cs"} for ch in text)


def parse_student_number(text: str) -> str:
    value = _nfkc(text)
    if not value:
        raise FieldError("required")
    if len(value) > 32:
        raise FieldError("student number is too long")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", value):
        raise FieldError("student number may only contain letters, digits, - and _")
    return value


def _person_name(text: str, too_long: str) -> str:
    value = " ".join(_nfkc(text).split())
    if len(value) > 50:
        raise FieldError(too_long)
    if _has_control(value):
        raise FieldError("contains invalid characters")
    return value


def parse_name(text: str) -> str:
    value = _person_name(text, "name is too long")
    if not value:
        raise FieldError("required")
    return value


def parse_guardian_name(text: str) -> str | None:
    return _person_name(text, "guardian name is too long") or None


_SEX = {
    **dict.fromkeys(("男", "男性", "m", "male", "1"), "M"),
    **dict.fromkeys(("女", "女性", "f", "female", "2"), "F"),
    **dict.fromkeys(("其他", "x", "other"), "X"),
}


def parse_sex(text: str) -> str:
    """``"M"``, ``"F"`` or ``"X"``; 1/2 follow the GB/T 2261.1 coding used by school systems."""
    value = _nfkc(text).casefold()
    if value not in _SEX:
        raise FieldError("not a recognised value for sex")
    return _SEX[value]


_DATE_PATTERNS = (
    re.compile(
        r"(?P<y>[0-9]{4})(?P<sep>[-/.])(?P<m>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})"
        r"(?:[ T]0{1,2}:00(?::00)?)?"  # Excel-to-CSV exports append midnight
    ),
    re.compile(r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})"),
    re.compile(r"(?P<y>[0-9]{4})年(?P<m>[0-9]{1,2})月(?P<d>[0-9]{1,2})日?"),
)


def parse_date(text: str, *, today: dt.date | None = None) -> dt.date:
    """A birth date in one of the formats Chinese school systems export, 1990-01-01..today."""
    value = _nfkc(text)
    match = next((m for p in _DATE_PATTERNS if (m := p.fullmatch(value))), None)
    if match is None:
        raise FieldError("not a valid date")
    try:
        date = dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        raise FieldError("not a valid date") from None
    if not EARLIEST_BIRTH_DATE <= date <= (today or dt.date.today()):
        raise FieldError("date must be between 1990-01-01 and today")
    return date


_CHINESE_NUMERALS = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二")
_CHINESE_GRADES = {
    **{f"{numeral}年级": n for n, numeral in enumerate(_CHINESE_NUMERALS, start=1)},
    **{f"初{numeral}": n for n, numeral in enumerate(_CHINESE_NUMERALS[:3], start=7)},
    **{f"高{numeral}": n for n, numeral in enumerate(_CHINESE_NUMERALS[:3], start=10)},
}


def parse_grade(text: str) -> int:
    """Grade 1..12 from "7", "07", "7年级", "七年级", "初一", "高三", full-width digits, ..."""
    value = "".join(_nfkc(text).split())
    if match := re.fullmatch(r"([0-9]{1,2})(?:年级)?", value):
        grade = int(match[1])
    elif value in _CHINESE_GRADES:
        grade = _CHINESE_GRADES[value]
    else:
        raise FieldError("not a recognised grade")
    if not 1 <= grade <= 12:
        raise FieldError("grade must be between 1 and 12")
    return grade


def parse_class_label(text: str) -> str:
    value = _nfkc(text)
    if not value:
        raise FieldError("required")
    if len(value) > 40:
        raise FieldError("class label is too long")
    if _has_control(value):
        raise FieldError("contains invalid characters")
    return value


_ID_WEIGHTS = tuple(2 ** (17 - i) % 11 for i in range(17))
_ID_CHECK = "10X98765432"


def national_id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of an 18-character resident identity number."""
    if not re.fullmatch(r"[0-9]{17}", first17):
        raise FieldError("national ID must start with 17 digits")
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def parse_national_id(text: str) -> str | None:
    value = "".join(_nfkc(text).split()).upper()
    if not value:
        return None
    if not re.fullmatch(r"[0-9]{17}[0-9X]", value):
        raise FieldError("national ID must be 17 digits and a check digit")
    if national_id_check_digit(value[:17]) != value[17]:
        raise FieldError("national ID check digit does not match")
    return value


def parse_phone(text: str) -> str | None:
    """A mainland mobile or landline number, spaces/dashes/brackets and +86 removed."""
    value = re.sub(r"[\s\-()]", "", _nfkc(text))
    value = value.removeprefix("+86")
    if not value:
        return None
    if re.fullmatch(r"1[3-9][0-9]{9}|(?:0[0-9]{2,3})?[0-9]{7,8}", value):
        return value
    raise FieldError("not a valid phone number")


_PARSERS: dict[str, Callable[[str], object]] = {
    "student_number": parse_student_number,
    "name": parse_name,
    "sex": parse_sex,
    "grade": parse_grade,
    "class": parse_class_label,
    "national_id": parse_national_id,
    "guardian_name": parse_guardian_name,
    "guardian_phone": parse_phone,
}


# --- rows and columns -----------------------------------------------------------------------


@dataclass
class _Columns:
    """How the file's headers map to roster fields (``field -> header as written``)."""

    fields: dict[str, str]
    errors: list[RowError]
    unknown: list[str]


def _resolve_columns(headers: list[str], header_row: int) -> _Columns:
    fields: dict[str, str] = {}
    errors: list[RowError] = []
    unknown: list[str] = []
    for header in headers:
        name = _FIELD_BY_KEY.get(_header_key(header))
        if name is None:
            unknown.append(header)
        elif name in fields:
            both = f"{fields[name]}, {header}"
            errors.append(RowError(header_row, both, f"more than one column for {name}"))
        else:
            fields[name] = header
    missing = [f for f in REQUIRED if f not in fields]
    if missing:
        labels = ", ".join(f"{f} ({CHINESE_COLUMN_NAMES[f]})" for f in missing)
        errors.insert(0, RowError(header_row, labels, f"missing required columns: {labels}"))
    return _Columns(fields, errors, unknown)


def _parse_cells(
    row: int, cells: dict[str, str], columns: dict[str, str], today: dt.date | None
) -> tuple[dict[str, object], list[RowError]]:
    """Parse every mapped cell; blank optional cells become ``None``."""
    values: dict[str, object] = dict.fromkeys(OPTIONAL)
    errors: list[RowError] = []
    for name, header in columns.items():
        try:
            values[name] = _parse_field(name, cells.get(header, ""), today)
        except FieldError as exc:
            errors.append(RowError(row, header, str(exc)))
    return values, errors


def _parse_field(name: str, text: str, today: dt.date | None) -> object:
    if name != "birth_date":
        return _PARSERS[name](text)
    if not text.strip():
        raise FieldError("required")
    return parse_date(text, today=today)


def _check_duplicate(
    row: int, values: dict[str, object], header: str, seen: dict[str, int]
) -> RowError | None:
    number = values.get("student_number")
    if not isinstance(number, str):
        return None
    first = seen.setdefault(number, row)
    if first == row:
        return None
    return RowError(row, header, f"duplicate student number (first seen on row {first})")


def validate_roster(path: Path, *, today: dt.date | None = None) -> RosterReport:
    """Check a whole roster file in one streaming pass.

    Raises :class:`~wellbeing.core.tabular.TabularError` if the file cannot be read at all.
    """
    report = RosterReport()
    with open_table(path) as table:
        columns = _resolve_columns(table.headers, table.header_row)
        report.warnings.extend(
            RowError(table.header_row, h, "unknown column ignored") for h in columns.unknown
        )
        for error in columns.errors:
            report.add_error(error)
        if columns.errors:
            return report
        seen: dict[str, int] = {}
        for row, cells in table:
            report.rows_total += 1
            _validate_row(row, cells, columns.fields, seen, report, today)
        if report.rows_total == 0:
            report.add_error(RowError(table.header_row, "", "file has no data rows"))
    return report


def _validate_row(
    row: int,
    cells: dict[str, str],
    fields: dict[str, str],
    seen: dict[str, int],
    report: RosterReport,
    today: dt.date | None,
) -> None:
    values, errors = _parse_cells(row, cells, fields, today)
    duplicate = _check_duplicate(row, values, fields["student_number"], seen)
    for error in [*errors, *([duplicate] if duplicate else [])]:
        report.add_error(error)
    grade, label = values.get("grade"), values.get("class")
    if isinstance(grade, int) and isinstance(label, str):
        report.classes.add((grade, label))


def iter_roster(path: Path, *, today: dt.date | None = None) -> Iterator[RosterRow]:
    """Yield parsed rows of a roster that :func:`validate_roster` accepted.

    Raises :class:`RosterError` at the first invalid row or duplicate student number, so an
    import that runs inside one transaction rolls back if the file changed since validation.
    """
    with open_table(path) as table:
        columns = _resolve_columns(table.headers, table.header_row)
        if columns.errors:
            raise RosterError(columns.errors[0])
        seen: dict[str, int] = {}
        for row, cells in table:
            values, errors = _parse_cells(row, cells, columns.fields, today)
            duplicate = _check_duplicate(row, values, columns.fields["student_number"], seen)
            problem = errors[0] if errors else duplicate
            if problem is not None:
                raise RosterError(problem)
            yield RosterRow(row=row, class_label=values.pop("class"), **values)  # type: ignore[arg-type]  # every field parsed: each value has its parser's type
