"""Streaming CSV/XLSX reader: encodings, delimiters, row numbers, XLSX cell rendering."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wellbeing.core.tabular import TabularError, cell_text, detect_encoding, open_table

HEADER = ["学号", "姓名", "备注"]
ENCODINGS = ["utf-8", "utf-8-sig", "gb18030"]


def write_csv(
    path: Path, rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def read_all(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    with open_table(path) as table:
        return table.headers, list(table)


# --- encoding detection ---------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_detects_each_encoding_of_chinese_text(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "r.csv", [HEADER, ["001", "张三", "走读"]], encoding)
    assert detect_encoding(path) == encoding


def test_ascii_only_file_is_utf8(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [["a", "b"], ["1", "2"]], "ascii")
    assert detect_encoding(path) == "utf-8"


def test_multibyte_character_across_chunk_boundary_is_still_utf8(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"a\n" + b"x" * (64 * 1024 - 3) + "学生\n".encode())
    assert detect_encoding(path) == "utf-8"


@pytest.mark.parametrize(
    "data",
    [
        "Größe,Straße\nä,ö\n".encode("latin-1"),
        b"caf\xe9 r\xe9sum\xe9\n",
        "学号,姓名\n".encode("utf-16"),
        b"\xff\xfe\x80" + random.Random(7).randbytes(4096),
    ],
    ids=["latin-1", "latin-1-eof", "utf-16", "random"],
)
def test_undecodable_file_is_rejected(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(data)
    with pytest.raises(TabularError, match="neither UTF-8 nor GB18030"):
        detect_encoding(path)
    with pytest.raises(TabularError, match="neither UTF-8 nor GB18030"):
        open_table(path)


# --- CSV reading ----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_reads_chinese_csv_with_spreadsheet_row_numbers(tmp_path: Path, encoding: str) -> None:
    rows = [[" 学号 ", "姓名", "备注 "], ["001", "张三", ""], ["002", "欧阳娜娜", "住校"]]
    headers, data = read_all(write_csv(tmp_path / "r.csv", rows, encoding))
    assert headers == HEADER
    assert data == [
        (2, {"学号": "001", "姓名": "张三", "备注": ""}),
        (3, {"学号": "002", "姓名": "欧阳娜娜", "备注": "住校"}),
    ]


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_delimiters(tmp_path: Path, delimiter: str) -> None:
    rows = [HEADER, ["001", "张三", "a,b;c"], ["002", "李四", "x"]]
    _, data = read_all(write_csv(tmp_path / "r.txt", rows, delimiter=delimiter))
    assert [cells["备注"] for _, cells in data] == ["a,b;c", "x"]


def test_ambiguous_header_is_sniffed(tmp_path: Path) -> None:
    rows = [["a,1", "b", "c"], ["1", "2", "3"], ["4", "5", "6"]]
    headers, data = read_all(write_csv(tmp_path / "r.csv", rows, delimiter=";"))
    assert headers == ["a,1", "b", "c"]
    assert data[1] == (3, {"a,1": "4", "b": "5", "c": "6"})


def test_blank_rows_are_skipped_but_counted(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("\n学号,姓名\n001,张三\n\n , \n002,李四\n", encoding="utf-8")
    with open_table(path) as table:
        assert table.header_row == 2
        assert [number for number, _ in table] == [3, 6]


def test_multiline_cell_is_one_row(tmp_path: Path) -> None:
    rows = [HEADER, ["001", "张三", "第一行\n第二行"], ["002", "李四", ""]]
    _, data = read_all(write_csv(tmp_path / "r.csv", rows))
    assert [number for number, _ in data] == [2, 3]
    assert data[0][1]["备注"] == "第一行\n第二行"


def test_ragged_rows_and_unnamed_columns(tmp_path: Path) -> None:
    rows = [["学号", "", "姓名"], ["001"], ["002", "x", "李四", "extra"]]
    headers, data = read_all(write_csv(tmp_path / "r.csv", rows))
    assert headers == ["学号", "姓名"]
    assert [cells for _, cells in data] == [
        {"学号": "001", "姓名": ""},
        {"学号": "002", "姓名": "李四"},
    ]


def test_duplicate_header_names_the_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [["学号", "姓名", " 学号"], ["1", "2", "3"]])
    with pytest.raises(TabularError, match="duplicate column header: 学号"):
        open_table(path)


@pytest.mark.parametrize("content", [b"", b"\n\n , \n", b"\xef\xbb\xbf"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(content)
    with pytest.raises(TabularError, match="file is empty"):
        open_table(path)


def test_oversized_field_is_reported_without_its_content(tmp_path: Path) -> None:
    secret = "机密" * 100_000
    path = write_csv(tmp_path / "r.csv", [HEADER, ["001", "张三", ""], ["002", secret, ""]])
    with open_table(path) as table, pytest.raises(TabularError) as excinfo:
        list(table)
    assert str(excinfo.value) == "malformed CSV at row 3"


@pytest.mark.parametrize("name", ["r.xls", "r.pdf", "roster", "r.csv.zip"])
def test_unsupported_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"a,b\n")
    with pytest.raises(TabularError, match="unsupported file type"):
        open_table(path)


def test_extension_is_case_insensitive(tmp_path: Path) -> None:
    headers, _ = read_all(write_csv(tmp_path / "R.CSV", [HEADER]))
    assert headers == HEADER


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cells=st.lists(
        st.lists(
            st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
            min_size=2,
            max_size=2,
        ),
        max_size=8,
    ),
    encoding=st.sampled_from(ENCODINGS),
    delimiter=st.sampled_from([",", "\t", ";"]),
)
def test_csv_round_trip(
    tmp_path: Path, cells: list[list[str]], encoding: str, delimiter: str
) -> None:
    # A non-blank first column keeps every row; the Chinese header makes a GB18030 file
    # invalid UTF-8, as it is for any real Chinese roster.
    rows = [[str(i), *pair] for i, pair in enumerate(cells)]
    path = write_csv(tmp_path / "r.csv", [HEADER, *rows], encoding, delimiter)
    headers, data = read_all(path)
    assert headers == HEADER
    assert data == [(i + 2, dict(zip(HEADER, row, strict=True))) for i, row in enumerate(rows)]


# --- XLSX -----------------------------------------------------------------------------------


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    other = workbook.create_sheet("其他")
    other.append(["not", "this", "sheet"])
    workbook.save(path)
    return path


def test_xlsx_cells_are_rendered_as_text(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["学号 ", "姓名", "出生日期", "年级", "分数", "入学"],
        [20230101, "张三", dt.date(2012, 3, 5), 7.0, 3.5, dt.datetime(2023, 9, 1, 8, 30)],
        [None, None, None, None, None, None],
        ["A-2", "李四", None, 8, None, True],
    ]
    headers, data = read_all(write_xlsx(tmp_path / "r.xlsx", rows))
    assert headers == ["学号", "姓名", "出生日期", "年级", "分数", "入学"]
    assert data == [
        (2, {"学号": "20230101", "姓名": "张三", "出生日期": "2012-03-05", "年级": "7",
             "分数": "3.5", "入学": "2023-09-01"}),
        (4, {"学号": "A-2", "姓名": "李四", "出生日期": "", "年级": "8", "分数": "",
             "入学": "TRUE"}),
    ]  # fmt: skip


def test_xlsx_with_wrong_dimension_reads_every_row(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", [["学号"], ["1"], ["2"], ["3"]])
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:A4"/>', b'<dimension ref="A1"/>')
                assert b'"A1"' in data
            dst.writestr(item, data)
    _, rows = read_all(broken)
    assert [cells["学号"] for _, cells in rows] == ["1", "2", "3"]


@pytest.mark.parametrize(
    "content",
    [b"a,b\n1,2\n", b"PK\x03\x04 truncated", b""],
    ids=["csv-renamed", "truncated-zip", "empty"],
)
def test_fake_xlsx_is_rejected(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "r.xlsx"
    path.write_bytes(content)
    with pytest.raises(TabularError, match="not a valid XLSX file"):
        open_table(path)


def test_empty_xlsx(tmp_path: Path) -> None:
    with pytest.raises(TabularError, match="file is empty"):
        open_table(write_xlsx(tmp_path / "r.xlsx", []))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (7.0, "7"),
        (-2.0, "-2"),
        (0.25, "0.25"),
        (12, "12"),
        (False, "FALSE"),
        (dt.date(2012, 3, 5), "2012-03-05"),
        (dt.datetime(2012, 3, 5, 23, 59), "2012-03-05"),
        (dt.time(8, 30), "08:30:00"),
        ("  x ", "  x "),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text
