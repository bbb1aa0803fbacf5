"""Refuse XLSX archives that would cost far more to read than their size suggests.

An XLSX file is a ZIP of XML parts. A few hundred kilobytes can unpack to gigabytes (a
"decompression bomb"), hold millions of tiny shared strings that openpyxl keeps in a list, put
millions of cells in one row (openpyxl builds a whole row before yielding it), or declare XML
entities that expand on parsing. :func:`check_xlsx` looks at the archive before openpyxl does:

1. the central directory (no decompression): number of parts, the total unpacked size and each
   large part's compression ratio. :mod:`zipfile` never inflates a part beyond its declared
   size, so the declared sizes bound what any reader can get out of the archive;
2. one streaming pass over every part (bounded by 1), with byte patterns only — no XML is built:
   any ``<!DOCTYPE``/``<!ENTITY`` declaration, an encoding a byte scan cannot read (UTF-16, or
   a declared encoding that is not ASCII-compatible), the number of ``<si>`` elements (shared
   strings, counted in every part whatever its name), and the size of every ``<row>``.

Every part is scanned, not only the usual names: the relationships decide which part openpyxl
parses as what, and they are as much under the uploader's control as the parts.

Messages are short English sentences with the limit folded in (translated by
:data:`wellbeing.core.messages.TABULAR`); they never contain file contents.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from pathlib import Path


class TabularError(ValueError):
    """The file cannot be read as a table. The message is safe to show to the uploader.

    Declared here, the lower of the two files, so that :mod:`.tabular` (which re-exports it as
    part of its API) can import the guard without the guard importing it back.
    """


__all__ = [
    "MAX_PARTS",
    "MAX_RATIO",
    "MAX_ROWS",
    "MAX_ROW_BYTES",
    "MAX_SHARED_STRINGS",
    "MAX_UNPACKED_MIB",
    "TabularError",
    "check_xlsx",
]

MIB = 1024 * 1024
MAX_PARTS = 1000  # a workbook has a dozen parts, a few hundred with many sheets and images
MAX_UNPACKED_MIB = 512  # all parts together, unpacked (about a million rows of a roster)
MAX_RATIO = 100  # ordinary worksheet XML compresses 5-20 to 1; bombs thousands to 1
RATIO_FROM_BYTES = MIB  # small parts may be very repetitive; only large ones are judged
MAX_SHARED_STRINGS = 1_000_000  # distinct texts; a 300,000-student roster has about 1.2 million
MAX_ROW_BYTES = MIB  # the XML of one row (an Excel row holds at most 16,384 cells)
MAX_ROWS = 1_048_576  # Excel's limit; openpyxl would otherwise fill any gap with empty rows

_CHUNK = MAX_ROW_BYTES // 2  # so a row that fits in one buffer is within the limit
_NAME = rb"(?:[A-Za-z_][\w.\-]{0,31}:)?"  # an optional namespace prefix
_SI = re.compile(rb"<" + _NAME + rb"si[\s/>]")
_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)")
_ROW = re.compile(rb"<(/?)" + _NAME + rb"(row|sheetData)[\s/>]")
_LAST_ROW = re.compile(rb"(?s).*(<(/?)" + _NAME + rb"(row|sheetData)[\s/>])")
_CARRY = 64  # longer than any pattern above; none of them contains a second "<"
_UTF16_STARTS = (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")
_XML_DECL = re.compile(rb"<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9._\-]{1,40})[\"']")
_ASCII_SAMPLE = "<!DOCTYPE ENTITY si row/>"


def check_xlsx(path: Path) -> None:
    """Raise :class:`TabularError` when the archive is over a limit; read nothing else."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise TabularError("not a valid XLSX file") from exc
    with archive:
        parts = archive.infolist()
        _check_directory(parts)
        scan = _Scan()
        for part in parts:
            if not part.is_dir():
                scan.part(archive, part)


def _check_directory(parts: list[zipfile.ZipInfo]) -> None:
    if len(parts) > MAX_PARTS:
        raise TabularError(f"the XLSX file has more than {MAX_PARTS} parts; save it again as CSV")
    if sum(p.file_size for p in parts) > MAX_UNPACKED_MIB * MIB:
        raise TabularError(
            f"the XLSX file unpacks to more than {MAX_UNPACKED_MIB} MiB; split it or save it as CSV"
        )
    for p in parts:
        if p.file_size > RATIO_FROM_BYTES and p.file_size > MAX_RATIO * max(p.compress_size, 1):
            raise TabularError(
                f"the XLSX file is compressed more than {MAX_RATIO} to 1, which no spreadsheet is"
            )


class _Scan:
    """One streaming pass with byte patterns, all matched in C (no Python per tag).

    Buffers are cut just before a ``<`` near their end, so no pattern straddles a cut. Rows
    are measured from a ``<row`` to the next row tag; only a row that crosses a buffer boundary
    can be larger than a buffer (half the limit), so only the first and last row tag of each
    buffer need a position.
    """

    def __init__(self) -> None:
        self.shared_strings = 0
        self.row_start: int | None = None  # offset of the open <row> in the current part

    def part(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        self.row_start = None
        offset, carry, first = 0, b"", True
        try:
            with archive.open(info) as stream:
                while True:
                    chunk = stream.read(_CHUNK)
                    if first:
                        _check_encoding(chunk)
                        first = False
                    buffer = carry + chunk
                    if not chunk:
                        self._segment(buffer, offset)
                        return
                    cut = buffer.rfind(b"<", max(0, len(buffer) - _CARRY))
                    cut = len(buffer) if cut < 0 else cut
                    self._segment(buffer[:cut], offset)
                    offset += cut
                    carry = buffer[cut:]
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
            raise TabularError("not a valid XLSX file") from exc

    def _segment(self, data: bytes, offset: int) -> None:
        if _DECLARATION.search(data):
            raise TabularError(
                "the XLSX file contains an XML document type declaration, which is not allowed"
            )
        self.shared_strings += len(_SI.findall(data))
        if self.shared_strings > MAX_SHARED_STRINGS:
            raise TabularError(
                f"the XLSX file has more than {MAX_SHARED_STRINGS} different texts; split it or save it as CSV"
            )
        first = _ROW.search(data)
        end = offset + (first.start() if first else len(data))
        if self.row_start is not None and end - self.row_start > MAX_ROW_BYTES:
            raise _row_too_large()
        last = _LAST_ROW.match(data) if first else None
        if last is not None:
            closing, name = last[2] == b"/", last[3]
            if closing:
                self.row_start = None
            elif name == b"row":
                self.row_start = offset + last.start(1)


def _row_too_large() -> TabularError:
    return TabularError(f"a row of the XLSX file is larger than {MAX_ROW_BYTES // MIB} MiB")


def _check_encoding(head: bytes) -> None:
    """Only encodings in which ASCII is ASCII: the byte patterns above must see every tag."""
    if head.startswith(_UTF16_STARTS):
        raise TabularError("the XLSX file uses a text encoding that is not supported")
    body = head[len(codecs.BOM_UTF8) :] if head.startswith(codecs.BOM_UTF8) else head
    if not body.startswith(b"<?xml"):
        return
    declared = _XML_DECL.match(body)
    if declared is None:
        return
    name = declared[1].decode("ascii")
    try:
        compatible = _ASCII_SAMPLE.encode(name) == _ASCII_SAMPLE.encode("ascii")
    except (LookupError, UnicodeError):
        compatible = False
    if not compatible:
        raise TabularError("the XLSX file uses a text encoding that is not supported")
