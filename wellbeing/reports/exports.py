"""CSV and XLSX of a report (issue 16 item 5), always from tables published for release
(``publish_table(..., export=True)``: suppressed whoever asks).

CSV: UTF-8 with a byte-order mark (Excel and WPS then read the Chinese right), CRLF line ends,
one table per file, its header row first. XLSX: one sheet per table, the report's title and
filters above the table, what "<10" and "*" mean below it. Numbers are numbers; a hidden count
is its text ("<10", "*"). Every text cell that a spreadsheet would read as a formula (it starts
with ``= + - @``, a tab or a carriage return: a school named "=cmd|..." ) starts with an
apostrophe instead, so it is shown, never run.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from urllib.parse import quote

from flask_babel import gettext as _

from .report_services import ShownReport
from .tables import HIDDEN, PublishedLine, PublishedTable

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
Cell = str | int | float


def neutralise(text: str) -> str:
    """``=cmd|' /c calc'!A1`` -> ``'=cmd|' /c calc'!A1``: a spreadsheet shows it as text."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _share(text: str) -> Cell:
    if text == HIDDEN or not text.endswith("%"):
        return text
    try:
        return round(float(text[:-1]) / 100, 4)
    except ValueError:
        return text


def _row(table: PublishedTable, line: PublishedLine, *, total: bool) -> list[Cell]:
    """One line in the order of ``table.head()``: labels, counts (numbers, or the hidden text),
    the row total, shares (fractions), statistics (text)."""
    labels: list[Cell] = list(line.labels)
    if total and labels:
        labels[0] = _("Total")
    counts: list[Cell] = [
        value if value is not None else text
        for value, text in zip(line.values, line.cells, strict=True)
    ]
    if table.table.row_totals:
        counts.append(line.total_value if line.total_value is not None else line.total)
    return [*labels, *counts, *(_share(s) for s in line.shares), *line.statistics]


def rows(table: PublishedTable) -> list[list[Cell]]:
    """The body of ``table`` (its lines, then the total line) as typed cells."""
    out = [_row(table, line, total=False) for line in table.lines]
    if table.table.show_total:
        out.append(_row(table, table.total, total=True))
    return out


def head(table: PublishedTable) -> list[str]:
    """``table.head()`` with the row-total column named ("Total" when the report left it
    blank)."""
    out = table.head()
    t = table.table
    if t.row_totals and not t.total_heading:
        out[t.show_depth + len(t.columns)] = _("Total")
    return out


def _text(cell: Cell) -> str:
    if isinstance(cell, float):
        return f"{cell * 100:.1f}%"
    return str(cell) if isinstance(cell, int) else neutralise(cell)


def to_csv(table: PublishedTable) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in head(table)])
    for row in rows(table):
        writer.writerow([_text(cell) for cell in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def _sheet_title(title: str, taken: set[str]) -> str:
    base = _SHEET_BAD.sub(" ", neutralise(title)).strip("' ")[:28] or "1"
    name, n = base, 1
    while name.lower() in taken:
        n += 1
        name = f"{base[:26]}({n})"
    taken.add(name.lower())
    return name


def to_xlsx(shown: ShownReport, filters_text: Iterable[str], note: str) -> bytes:
    from openpyxl import Workbook  # heavy imports, only for this download
    from openpyxl.styles import Font  # (as above)

    book = Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    bold = Font(bold=True)
    for table in shown.tables:
        sheet = book.create_sheet(_sheet_title(table.table.title, taken))
        sheet.append([neutralise(str(shown.spec.title))])
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append([neutralise(table.table.title)])
        sheet.append([neutralise(" · ".join(filters_text))])
        sheet.append([])
        sheet.append([neutralise(h) for h in head(table)])
        for cell in sheet[sheet.max_row]:
            cell.font = bold
        for row in rows(table):
            sheet.append([neutralise(c) if isinstance(c, str) else c for c in row])
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, float):
                    cell.number_format = "0.0%"
        for cell in sheet[sheet.max_row]:
            cell.font = bold
        if table.threshold and note:
            sheet.append([])
            sheet.append([neutralise(note)])
        for column in sheet.columns:
            letter = column[0].column_letter
            widest = max((len(str(c.value)) for c in column[4:] if c.value is not None), default=8)
            sheet.column_dimensions[letter].width = min(40, max(8, widest * 2 + 2))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


_FILE_BAD = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def filename(title: str, today: dt.date, suffix: str) -> str:
    """筛查覆盖-2026-12-03.csv: the report's title and the date, nothing a file system refuses."""
    clean = _FILE_BAD.sub("-", title).strip(" .-") or "report"
    return f"{clean}-{today.isoformat()}.{suffix}"


def content_disposition(name: str, fallback: str) -> str:
    """``attachment`` with an ASCII ``filename`` and the real name as RFC 5987 ``filename*``."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "-", fallback) or "report"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
