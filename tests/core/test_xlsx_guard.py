"""The XLSX archive check: each limit on its own, and the streaming scan exact whatever the
buffer boundaries (Hypothesis, with tiny buffers and limits)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wellbeing.core import xlsx_guard
from wellbeing.core.tabular import TabularError, open_table

from . import xlsx_bombs

HEADER = ["学号", "姓名"]


def _refusal(path: Path) -> str:
    with pytest.raises(TabularError) as caught:
        open_table(path)
    return str(caught.value)


def test_harmless_workbook_with_shared_strings_and_prefixes_reads(tmp_path: Path) -> None:
    shared = xlsx_bombs.shared_strings_xml(["学号", "姓名", "张三"])
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8"?><x:worksheet xmlns:x="{xlsx_bombs.MAIN}">'
        '<x:sheetData><x:row r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c r="B1" t="s">'
        '<x:v>1</x:v></x:c></x:row><x:row r="2"><x:c r="A2"><x:v>7</x:v></x:c><x:c r="B2" t="s">'
        "<x:v>2</x:v></x:c></x:row></x:sheetData></x:worksheet>"
    ).encode()
    path = xlsx_bombs.write_xlsx(tmp_path / "ok.xlsx", sheet, shared)
    with open_table(path) as table:
        assert table.headers == HEADER and list(table) == [(2, {"学号": "7", "姓名": "张三"})]


def test_too_many_parts(tmp_path: Path) -> None:
    extra = {f"xl/media/p{i}.bin": b"x" for i in range(xlsx_guard.MAX_PARTS)}
    path = xlsx_bombs.write_xlsx(tmp_path / "p.xlsx", xlsx_bombs.sheet_xml([HEADER]), extra=extra)
    assert _refusal(path) == "the XLSX file has more than 1000 parts; save it again as CSV"


def test_doctype_in_any_part_whatever_its_name(tmp_path: Path) -> None:
    extra = {"customXml/item1.xml": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]><r/>'}
    path = xlsx_bombs.write_xlsx(tmp_path / "d.xlsx", xlsx_bombs.sheet_xml([HEADER]), extra=extra)
    assert "document type declaration" in _refusal(path)


@pytest.mark.parametrize(
    "head",
    [
        '<?xml version="1.0" encoding="UTF-16"?><worksheet/>'.encode("utf-16"),
        b'<?xml version="1.0" encoding="cp500"?>' + "<worksheet/>".encode("cp500"),
        b'<?xml version="1.0" encoding="no-such-codec"?><worksheet/>',
    ],
    ids=["utf-16", "ebcdic", "unknown"],
)
def test_encodings_a_byte_scan_cannot_read_are_refused(tmp_path: Path, head: bytes) -> None:
    """An entity bomb in UTF-16 or EBCDIC would slip past byte patterns: refused outright."""
    path = xlsx_bombs.write_xlsx(tmp_path / "e.xlsx", head)
    assert _refusal(path) == "the XLSX file uses a text encoding that is not supported"


def test_rows_past_excels_last_row_are_refused_quickly(tmp_path: Path) -> None:
    """``<row r="999999999">`` would make openpyxl yield a billion empty rows."""
    sheet = xlsx_bombs.sheet_xml([HEADER]).replace(
        b"</sheetData>",
        b'<row r="999999999"><c t="inlineStr"><is><t>x</t></is></c></row></sheetData>',
    )
    path = xlsx_bombs.write_xlsx(tmp_path / "gap.xlsx", sheet)
    with pytest.raises(TabularError, match="more than 1048576 rows"), open_table(path) as table:
        list(table)


def test_not_a_zip_is_not_a_valid_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"PK\x03\x04 not really")
    assert _refusal(path) == "not a valid XLSX file"


# --------------------------------------------------------------------------- the scan itself

_TAGS = re.compile(rb"<(/?)(?:x:)?(row|sheetData)[\s/>]")


def _true_max_row(data: bytes) -> int:
    """Bytes from each ``<row`` to the next row tag (or the end): what the scan promises."""
    tags = list(_TAGS.finditer(data))
    sizes = [
        (tags[i + 1].start() if i + 1 < len(tags) else len(data)) - tag.start()
        for i, tag in enumerate(tags)
        if tag[1] == b"" and tag[2] == b"row"
    ]
    return max(sizes, default=0)


_FRAGMENT = st.one_of(
    st.tuples(st.just("row"), st.sampled_from(["", "x:"]), st.integers(0, 40)),
    st.tuples(st.just("empty-row"), st.sampled_from(["", "x:"]), st.just(0)),
    st.tuples(st.just("si"), st.sampled_from(["", "x:"]), st.integers(1, 5)),
    st.tuples(st.just("text"), st.just(""), st.integers(0, 90)),
)


def _render(fragments: list[tuple[str, str, int]]) -> bytes:
    out = ["<x:sheetData>"]
    for kind, prefix, n in fragments:
        if kind == "row":
            out.append(
                f'<{prefix}row r="1">'
                + f"<{prefix}c><{prefix}v>1</{prefix}v></{prefix}c>" * n
                + f"</{prefix}row>"
            )
        elif kind == "empty-row":
            out.append(f'<{prefix}row r="2"/>')
        elif kind == "si":
            out.append(f"<{prefix}si><{prefix}t>a</{prefix}t></{prefix}si>" * n)
        else:
            out.append("z" * n)
    out.append("</x:sheetData><tail/>")
    return "".join(out).encode()


@settings(max_examples=150, deadline=None)
@given(
    fragments=st.lists(_FRAGMENT, max_size=30),
    chunk=st.integers(1, 150),
    limit_extra=st.integers(64, 400),
)
def test_scan_is_exact_whatever_the_buffer_boundaries(fragments, chunk, limit_extra) -> None:  # type: ignore[no-untyped-def]
    data = _render(fragments)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", data)
    limit = chunk + limit_extra  # a buffer (chunk + carry) always fits within the row limit
    saved = xlsx_guard._CHUNK, xlsx_guard.MAX_ROW_BYTES
    xlsx_guard._CHUNK, xlsx_guard.MAX_ROW_BYTES = chunk, limit
    try:
        scan = xlsx_guard._Scan()
        with zipfile.ZipFile(archive) as z:
            try:
                scan.part(z, z.infolist()[0])
                refused = False
            except TabularError as exc:
                assert "row" in str(exc)
                refused = True
    finally:
        xlsx_guard._CHUNK, xlsx_guard.MAX_ROW_BYTES = saved
    assert refused == (_true_max_row(data) > limit)
    if not refused:
        assert scan.shared_strings == len(re.findall(rb"<(?:x:)?si>", data))
