"""Streaming reader for uploaded CSV and XLSX tables (rosters, bulk imports).

Files are read row by row and never held in memory as a whole, so a 100,000-row district export
costs a few kilobytes of buffer, not hundreds of megabytes.

Row numbers are the ones a spreadsheet user sees: the header is row 1 and the first data row is
row 2. Blank rows are skipped but still counted, so a reported row number always points at the
right line when the file is opened in Excel or WPS.

Error messages are short, in English (translated by the caller) and never contain cell contents:
an uploaded roster holds personal data that must not leak into logs or flash messages. Header
names may appear, they are not personal data.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from .xlsx_guard import MAX_ROWS, TabularError, check_xlsx

__all__ = ["Table", "TabularError", "cell_text", "detect_encoding", "open_table"]

CSV_SUFFIXES = frozenset({".csv", ".txt"})
XLSX_SUFFIXES = frozenset({".xlsx"})

_CHUNK_BYTES = 64 * 1024
_SNIFF_CHARS = 8 * 1024
_DELIMITERS = ",\t;"

RawRow = tuple[int, list[str]]


class Table:
    """An open table: ``headers`` plus a single-pass iterator of ``(row_number, {header: cell})``.

    Use it as a context manager so the underlying file is closed even if iteration stops early.
    Columns with an empty header are dropped; short rows are padded with ``""``; cells beyond
    the last header are ignored. Cells are returned as read (not trimmed).
    """

    def __init__(self, rows: Iterator[RawRow], close: Callable[[], None]) -> None:
        self._rows = rows
        self._close = close
        try:
            self.header_row, raw_headers = _first_non_blank(rows)
            self._columns = _header_columns(raw_headers)
        except BaseException:
            close()
            raise
        self.headers: list[str] = [name for _, name in self._columns]

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        for number, cells in self._rows:
            if _is_blank(cells):
                continue
            width = len(cells)
            yield number, {name: cells[i] if i < width else "" for i, name in self._columns}

    def close(self) -> None:
        self._close()

    def __enter__(self) -> Table:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_table(path: Path) -> Table:
    """Open a ``.csv``/``.txt`` or ``.xlsx`` file as a :class:`Table`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _open_csv(path)
    if suffix in XLSX_SUFFIXES:
        return _open_xlsx(path)
    raise TabularError("unsupported file type; expected .csv, .txt or .xlsx")


# --- helpers shared by both formats ---------------------------------------------------------


def _is_blank(cells: list[str]) -> bool:
    return all(not cell.strip() for cell in cells)


def _first_non_blank(rows: Iterator[RawRow]) -> RawRow:
    for number, cells in rows:
        if not _is_blank(cells):
            return number, cells
    raise TabularError("file is empty")


def _clean_header(text: str) -> str:
    return text.strip().lstrip("\ufeff").strip()


def _header_columns(raw: list[str]) -> list[tuple[int, str]]:
    """Index and trimmed name of each named column; duplicated names are an error."""
    columns: list[tuple[int, str]] = []
    seen: set[str] = set()
    for index, text in enumerate(raw):
        name = _clean_header(text)
        if not name:
            continue
        if name in seen:
            raise TabularError(f"duplicate column header: {name}")
        seen.add(name)
        columns.append((index, name))
    return columns


# --- CSV ------------------------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """Return ``"utf-8-sig"``, ``"utf-8"`` or ``"gb18030"`` for a text file.

    The whole file is decoded once, in chunks, by a strict UTF-8 decoder and a GB18030 decoder
    side by side; the first one (in that order) that accepts every byte wins. UTF-8 goes first:
    a GB18030 file with Chinese text is practically never valid UTF-8, while the reverse is
    common. Deciding on the full file up front means reading can never fail half-way through.
    """
    with Path(path).open("rb") as f:
        utf8 = "utf-8-sig" if f.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8 else "utf-8"
        f.seek(0)
        alive = {name: codecs.getincrementaldecoder(name)("strict") for name in (utf8, "gb18030")}
        for chunk in iter(partial(f.read, _CHUNK_BYTES), b""):
            _feed(alive, chunk, final=False)
            if not alive:
                break
        _feed(alive, b"", final=True)
    for name in (utf8, "gb18030"):
        if name in alive:
            return name
    raise TabularError("file is neither UTF-8 nor GB18030 text")


def _feed(decoders: dict[str, codecs.IncrementalDecoder], data: bytes, *, final: bool) -> None:
    for name, decoder in list(decoders.items()):
        try:
            decoder.decode(data, final)
        except UnicodeDecodeError:
            del decoders[name]


def _sniff_delimiter(sample: str) -> str:
    """Pick the delimiter among comma, tab and semicolon.

    The header line decides when exactly one candidate occurs in it (the usual case, and immune
    to odd cell contents); otherwise :class:`csv.Sniffer` looks at the whole sample.
    """
    if len(sample) >= _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]  # never sniff a truncated last line
    first = next((line for line in sample.splitlines() if line.strip()), "")
    present = [d for d in _DELIMITERS if d in first]
    if len(present) <= 1:
        return present[0] if present else ","
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(present)).delimiter
    except csv.Error:
        return ","


def _open_csv(path: Path) -> Table:
    encoding = detect_encoding(path)
    f = path.open(encoding=encoding, newline="", errors="strict")
    try:
        delimiter = _sniff_delimiter(f.read(_SNIFF_CHARS))
        f.seek(0)
    except BaseException:
        f.close()
        raise
    return Table(_csv_rows(f, delimiter), f.close)


def _csv_rows(f: IO[str], delimiter: str) -> Iterator[RawRow]:
    """Records numbered from 1; a quoted cell spanning lines is still one spreadsheet row."""
    reader = csv.reader(f, delimiter=delimiter)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, cells
    except csv.Error as exc:
        raise TabularError(f"malformed CSV at row {number + 1}") from exc
    except UnicodeDecodeError as exc:  # the file changed after detection
        raise TabularError("file is neither UTF-8 nor GB18030 text") from exc


# --- XLSX -----------------------------------------------------------------------------------


def _open_xlsx(path: Path) -> Table:
    from openpyxl import load_workbook  # heavy import, only needed for XLSX uploads

    check_xlsx(path)  # sizes, ratio, parts, shared strings, row size, no DOCTYPE: before parsing
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # BadZipFile, InvalidFileException, KeyError, XML errors, ...
        raise TabularError("not a valid XLSX file") from exc
    try:
        if not workbook.worksheets:
            raise TabularError("workbook has no worksheet")
        sheet = workbook.worksheets[0]
        # Some exporters write a wrong <dimension>; trusting it would silently drop rows.
        sheet.reset_dimensions()
        rows = _xlsx_rows(sheet.iter_rows(min_row=1, values_only=True))
    except BaseException:
        workbook.close()
        raise
    return Table(rows, workbook.close)


def _xlsx_rows(values: Iterator[tuple[Any, ...]]) -> Iterator[RawRow]:
    """openpyxl fills in missing rows, so counting from 1 gives the sheet's row numbers.

    A row numbered past Excel's last row would make openpyxl fill in empty rows for as long as
    the number says (minutes of CPU for ``<row r="999999999">``): refused at the limit.
    """
    counter = itertools.count(1)
    try:
        for row in values:
            number = next(counter)
            if number > MAX_ROWS:
                raise TabularError(f"the worksheet has more than {MAX_ROWS} rows")
            yield number, [cell_text(value) for value in row]
    except TabularError:
        raise
    except Exception as exc:
        raise TabularError("not a valid XLSX file") from exc


def cell_text(value: object) -> str:
    """Render an XLSX cell value the way the user typed it: ``7.0`` -> ``"7"``, dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)
