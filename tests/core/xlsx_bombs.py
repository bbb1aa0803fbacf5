"""Hand-built XLSX files, harmless and hostile, for the upload guards' tests.

Each builder writes a complete minimal workbook (content types, relationships, workbook, one
sheet, shared strings) so that, without the guard, openpyxl really parses what it contains.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"

CONTENT_TYPES = f"""<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="{CT}.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{CT}.worksheet+xml"/>
<Override PartName="/xl/sharedStrings.xml" ContentType="{CT}.sharedStrings+xml"/>
</Types>"""
ROOT_RELS = f"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="{PKG}"><Relationship Id="rId1" Target="xl/workbook.xml"
Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>
</Relationships>"""
WORKBOOK = f"""<?xml version="1.0" encoding="UTF-8"?>
<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>
<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"""
WORKBOOK_RELS = f"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="{PKG}">
<Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="{REL}/worksheet"/>
<Relationship Id="rId2" Target="sharedStrings.xml" Type="{REL}/sharedStrings"/>
</Relationships>"""


def _cell(column: str, row: int, value: str) -> str:
    return f'<c r="{column}{row}" t="inlineStr"><is><t>{value}</t></is></c>'


def sheet_xml(rows: Iterable[list[str]], *, prolog: str = "") -> bytes:
    """Inline-string cells (no shared strings needed), columns A, B, C…"""
    body = "".join(
        f'<row r="{n}">'
        + "".join(_cell(chr(65 + i), n, value) for i, value in enumerate(cells))
        + "</row>"
        for n, cells in enumerate(rows, start=1)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<worksheet xmlns="{MAIN}">'
        f"<sheetData>{body}</sheetData></worksheet>"
    ).encode()


def shared_strings_xml(texts: Iterable[str], *, prolog: str = "") -> bytes:
    items = "".join(f"<si><t>{t}</t></si>" for t in texts)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<sst xmlns="{MAIN}">{items}</sst>'
    ).encode()


def write_xlsx(
    path: Path,
    sheet: bytes | Iterable[bytes],
    shared: bytes | None = None,
    *,
    extra: dict[str, bytes] | None = None,
    level: int = 9,
) -> Path:
    """``sheet`` may be an iterable of byte blocks, written as they come (big sheets)."""
    parts = {
        "[Content_Types].xml": CONTENT_TYPES.encode(),
        "_rels/.rels": ROOT_RELS.encode(),
        "xl/workbook.xml": WORKBOOK.encode(),
        "xl/_rels/workbook.xml.rels": WORKBOOK_RELS.encode(),
        "xl/sharedStrings.xml": shared if shared is not None else shared_strings_xml([]),
        **(extra or {}),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out:
            for block in [sheet] if isinstance(sheet, bytes) else sheet:
                out.write(block)
    return path


def table_xlsx(path: Path, rows: list[list[str]]) -> Path:
    """A harmless workbook with these rows."""
    return write_xlsx(path, sheet_xml(rows))


# --- hostile workbooks: each stays under the upload limit (a few MiB at most) ----------------


def inflating_bomb(path: Path, header: list[str], mib: int = 600) -> Path:
    """One small row, then ``mib`` MiB of empty rows: 600 MiB packs into about 2.6 MiB."""
    head, tail = sheet_xml([header]).split(b"</sheetData>")
    block = b"<row/>" * (1024 * 1024 // 6)

    def blocks() -> Iterable[bytes]:
        yield head
        for _ in range(mib):
            yield block
        yield b"</sheetData>" + tail

    return write_xlsx(path, blocks(), level=1)


def wide_row_bomb(path: Path, header: list[str]) -> Path:
    """A single row of 2 MiB of varied cells: compresses only about 5 to 1, so neither the
    ratio nor the total size catches it; openpyxl would build the whole row in memory."""
    cells = "".join(f'<c t="n"><v>{i * 7919 % 1000003}</v></c>' for i in range(110_000))
    head = sheet_xml([header]).split(b"</sheetData>")[0]
    return write_xlsx(
        path, head + f'<row r="2">{cells}</row>'.encode() + b"</sheetData></worksheet>"
    )


def shared_strings_bomb(path: Path, header: list[str], count: int) -> Path:
    """``count`` different tiny shared strings (numbers), compressing about 5 to 1."""
    return write_xlsx(path, sheet_xml([header]), shared_strings_xml(str(i) for i in range(count)))


def entity_bomb(path: Path, header: list[str]) -> Path:
    """Billion laughs in the shared strings (and a harmless-looking sheet)."""
    entities = '<!ENTITY a0 "ha">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    prolog = f"<!DOCTYPE sst [{entities}]>"
    return write_xlsx(path, sheet_xml([header]), shared_strings_xml(["&a9;"], prolog=prolog))
