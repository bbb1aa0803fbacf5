"""Roster parsing and streaming validation: cell parsers, header matching, reports, memory."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tracemalloc
from pathlib import Path

import openpyxl
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from wellbeing.students.roster import (
    MAX_ERRORS,
    RosterError,
    RosterRow,
    iter_roster,
    national_id_check_digit,
    parse_class_label,
    parse_date,
    parse_grade,
    parse_name,
    parse_national_id,
    parse_phone,
    parse_sex,
    parse_student_number,
    validate_roster,
)

TODAY = dt.date(2025, 6, 1)
CN_HEADER = ["学号", "姓名", "性别", "出生日期", "年级", "班级", "身份证号", "监护人", "监护人电话"]
VALID_ID = "11010519491231002X"


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def student(number: str = "2023001", **overrides: str) -> list[str]:
    values = {
        "学号": number,
        "姓名": "张三",
        "性别": "男",
        "出生日期": "2012-03-05",
        "年级": "初一",
        "班级": "1班",
        "身份证号": "",
        "监护人": "",
        "监护人电话": "",
    }
    values.update(overrides)
    return [values[h] for h in CN_HEADER]


# --- cell parsers ---------------------------------------------------------------------------

GRADE_WORDS = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"]


def grade_forms(grade: int) -> list[str]:
    forms = [
        str(grade),
        f"{grade:02d}",
        f"{grade}年级",
        f" {grade} 年级 ",
        f"{GRADE_WORDS[grade - 1]}年级",
    ]
    forms += [f.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"}) for f in forms[:3]]
    if 7 <= grade <= 9:
        forms.append("初" + GRADE_WORDS[grade - 7])
    if grade >= 10:
        forms.append("高" + GRADE_WORDS[grade - 10])
    return forms


@given(st.integers(1, 12))
def test_parse_grade_accepts_every_form(grade: int) -> None:
    for form in grade_forms(grade):
        assert parse_grade(form) == grade, form


@pytest.mark.parametrize("text", ["0", "13", "00", "99年级", "十三年级"])
def test_parse_grade_out_of_range(text: str) -> None:
    with pytest.raises(ValueError, match="grade"):
        parse_grade(text)


@pytest.mark.parametrize("text", ["", "初四", "高四", "7.5", "grade seven", "一二年级", "-7"])
def test_parse_grade_rejects_unknown(text: str) -> None:
    with pytest.raises(ValueError, match="not a recognised grade"):
        parse_grade(text)


@pytest.mark.parametrize(
    ("text", "sex"),
    [("男", "M"), ("M", "M"), (" male ", "M"), ("1", "M"), ("女", "F"), ("f", "F"),
     ("FEMALE", "F"), ("2", "F"), ("其他", "X"), ("x", "X"), ("Other", "X"), ("１", "M")],
)  # fmt: skip
def test_parse_sex(text: str, sex: str) -> None:
    assert parse_sex(text) == sex


@pytest.mark.parametrize("text", ["", "3", "未知", "boy"])
def test_parse_sex_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="sex"):
        parse_sex(text)


def date_forms(d: dt.date) -> list[str]:
    return [
        d.isoformat(),
        f"{d.year}/{d.month:02d}/{d.day:02d}",
        f"{d.year}/{d.month}/{d.day}",
        f"{d.year}.{d.month}.{d.day:02d}",
        f"{d.year}{d.month:02d}{d.day:02d}",
        f"{d.year}年{d.month}月{d.day}日",
        f"{d.year}-{d.month:02d}-{d.day:02d} 00:00:00",
        f"２０{d.year % 100:02d}年{d.month}月{d.day}日" if d.year >= 2000 else d.isoformat(),
    ]


@given(st.dates(dt.date(1990, 1, 1), TODAY))
def test_parse_date_accepts_every_format(date: dt.date) -> None:
    for form in date_forms(date):
        assert parse_date(form, today=TODAY) == date, form


@given(st.integers(1990, 2024), st.integers(0, 99), st.integers(0, 99))
def test_parse_date_rejects_impossible_dates(year: int, month: int, day: int) -> None:
    try:
        dt.date(year, month, day)
    except ValueError:
        pass
    else:
        assume(False)
    for sep in "-/.":
        with pytest.raises(ValueError, match="not a valid date"):
            parse_date(f"{year}{sep}{month:02d}{sep}{day:02d}", today=TODAY)
    with pytest.raises(ValueError, match="not a valid date"):
        parse_date(f"{year}年{month}月{day}日", today=TODAY)


@pytest.mark.parametrize("text", ["1989-12-31", "2025-06-02", "2099-01-01"])
def test_parse_date_out_of_range(text: str) -> None:
    with pytest.raises(ValueError, match="between 1990-01-01 and today"):
        parse_date(text, today=TODAY)


@pytest.mark.parametrize("text", ["", "12/03/2012", "2012-03", "2012-03/05", "March 5", "2012035"])
def test_parse_date_rejects_other_formats(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid date"):
        parse_date(text, today=TODAY)


def test_parse_date_defaults_to_real_today() -> None:
    with pytest.raises(ValueError, match="today"):
        parse_date((dt.date.today() + dt.timedelta(days=1)).isoformat())


@given(st.text("0123456789", min_size=17, max_size=17), st.data())
def test_national_id_checksum_detects_any_single_digit_change(
    first17: str, data: st.DataObject
) -> None:
    valid = first17 + national_id_check_digit(first17)
    assert parse_national_id(valid) == valid
    assert parse_national_id(valid.lower()) == valid
    position = data.draw(st.integers(0, 16))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != first17[position]]))
    changed = valid[:position] + digit + valid[position + 1 :]
    with pytest.raises(ValueError, match="check digit does not match"):
        parse_national_id(changed)


def test_national_id_known_value_and_formats() -> None:
    assert parse_national_id(f" {VALID_ID.lower()} ") == VALID_ID
    assert parse_national_id("") is None
    for bad in ["1101051949123100", "11010519491231002Y", "11010519491231002"]:
        with pytest.raises(ValueError, match="17 digits and a check digit"):
            parse_national_id(bad)


@pytest.mark.parametrize(
    ("text", "phone"),
    [("13812345678", "13812345678"), ("138 1234 5678", "13812345678"),
     ("138-1234-5678", "13812345678"), ("+86 138 1234 5678", "13812345678"),
     ("010-12345678", "01012345678"), ("(0755)1234567", "07551234567"),
     ("12345678", "12345678"), ("", None), ("  ", None)],
)  # fmt: skip
def test_parse_phone(text: str, phone: str | None) -> None:
    assert parse_phone(text) == phone


@pytest.mark.parametrize("text", ["12812345678", "1381234567", "138123456789", "abc", "110"])
def test_parse_phone_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid phone number"):
        parse_phone(text)


@pytest.mark.parametrize(
    ("text", "label"),
    [("1班", "1班"), (" （3）班 ", "(3)班"), ("七年级2班", "七年级2班"), ("２", "2")],
)
def test_parse_class_label(text: str, label: str) -> None:
    assert parse_class_label(text) == label


def test_parse_class_label_limits() -> None:
    assert parse_class_label("班" * 40) == "班" * 40
    with pytest.raises(ValueError, match="too long"):
        parse_class_label("班" * 41)
    with pytest.raises(ValueError, match="required"):
        parse_class_label(" ")


def test_parse_name_and_student_number() -> None:
    assert parse_name("  欧阳　娜娜 ") == "欧阳 娜娜"
    assert parse_name("阿卜杜·热合曼") == "阿卜杜·热合曼"
    assert parse_student_number(" ２０２３-A_01 ") == "2023-A_01"
    for bad_name, message in [("", "required"), ("张" * 51, "too long"), ("张\x00三", "invalid")]:
        with pytest.raises(ValueError, match=message):
            parse_name(bad_name)
    for bad_number, message in [("", "required"), ("1" * 33, "too long"), ("20 23", "only")]:
        with pytest.raises(ValueError, match=message):
            parse_student_number(bad_number)


# --- validate_roster / iter_roster ----------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_valid_chinese_roster(tmp_path: Path, encoding: str) -> None:
    rows = [
        CN_HEADER,
        student("2023001", 身份证号=VALID_ID, 监护人="张父", 监护人电话="138 1234 5678"),
        student(
            "2023002", 姓名="李四", 性别="女", 出生日期="2012年3月5日", 年级="8", 班级="（2）班"
        ),
    ]
    path = write_csv(tmp_path / "roster.csv", rows, encoding)
    report = validate_roster(path, today=TODAY)
    assert report.ok, report.errors
    assert report.rows_total == 2
    assert report.warnings == []
    assert report.classes == {(7, "1班"), (8, "(2)班")}
    assert list(iter_roster(path, today=TODAY)) == [
        RosterRow(2, "2023001", "张三", "M", dt.date(2012, 3, 5), 7, "1班", VALID_ID, "张父",
                  "13812345678"),
        RosterRow(3, "2023002", "李四", "F", dt.date(2012, 3, 5), 8, "(2)班", None, None, None),
    ]  # fmt: skip


def test_english_headers_are_case_insensitive_and_extra_columns_warn(tmp_path: Path) -> None:
    header = [" Student Number ", "NAME", "Gender", "Birth_Date", "grade", "Class", "Notes"]
    path = write_csv(tmp_path / "r.csv", [header, ["A1", "Li", "F", "2013/01/02", "3", "2", "x"]])
    report = validate_roster(path, today=TODAY)
    assert report.ok
    assert [(w.row, w.column) for w in report.warnings] == [(1, "Notes")]
    assert next(iter_roster(path, today=TODAY)).class_label == "2"


def test_xlsx_roster_with_date_and_number_cells(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["学号", "姓名", "性别", "出生日期", "年级", "班级"])
    sheet.append([2023001, "张三", "男", dt.date(2012, 3, 5), 7, 2])
    sheet.append([2023002.0, "李四", 2, dt.datetime(2011, 12, 31), 8.0, "3班"])
    path = tmp_path / "roster.xlsx"
    workbook.save(path)
    report = validate_roster(path, today=TODAY)
    assert report.ok, report.errors
    rows = list(iter_roster(path, today=TODAY))
    assert [(r.student_number, r.sex, r.birth_date, r.grade, r.class_label) for r in rows] == [
        ("2023001", "M", dt.date(2012, 3, 5), 7, "2"),
        ("2023002", "F", dt.date(2011, 12, 31), 8, "3班"),
    ]


def test_missing_columns_is_one_error_on_the_header_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [["姓名", "性别", "班级"], ["张三", "男", "1班"]])
    report = validate_roster(path, today=TODAY)
    assert len(report.errors) == 1
    error = report.errors[0]
    assert error.row == 1
    for name in ["student_number", "birth_date", "grade", "学号"]:
        assert name in error.message
    with pytest.raises(RosterError, match="missing required columns"):
        next(iter_roster(path, today=TODAY))


def test_two_columns_for_one_field(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [[*CN_HEADER, "Student_Number"], [*student(), "1"]])
    report = validate_roster(path, today=TODAY)
    assert [(e.row, e.message) for e in report.errors] == [
        (1, "more than one column for student_number")
    ]


def test_cell_errors_name_row_and_column_but_never_the_value(tmp_path: Path) -> None:
    bad = {
        "出生日期": "2012-02-30",
        "年级": "13",
        "身份证号": VALID_ID[:-1] + "1",
        "监护人电话": "12812345678",
        "性别": "未知性别",
        "班级": "",
    }
    rows = [CN_HEADER, student("2023001"), student("2023002", **bad), student("2023001")]
    report = validate_roster(write_csv(tmp_path / "r.csv", rows), today=TODAY)
    assert {(e.row, e.column, e.message) for e in report.errors} == {
        (3, "出生日期", "not a valid date"),
        (3, "年级", "grade must be between 1 and 12"),
        (3, "身份证号", "national ID check digit does not match"),
        (3, "监护人电话", "not a valid phone number"),
        (3, "性别", "not a recognised value for sex"),
        (3, "班级", "required"),
        (4, "学号", "duplicate student number (first seen on row 2)"),
    }
    assert report.rows_total == 3
    assert report.classes == {(7, "1班")}
    for error in report.errors:
        for value in bad.values():
            assert not value or value not in error.message


def test_iter_roster_raises_on_invalid_and_duplicate_rows(tmp_path: Path) -> None:
    bad_date = write_csv(tmp_path / "a.csv", [CN_HEADER, student("1"), student("2", 出生日期="x")])
    rows = iter_roster(bad_date, today=TODAY)
    assert next(rows).student_number == "1"
    with pytest.raises(RosterError) as excinfo:
        next(rows)
    assert excinfo.value.error.row == 3
    assert str(excinfo.value) == "row 3, column 出生日期: not a valid date"
    duplicate = write_csv(tmp_path / "b.csv", [CN_HEADER, student("1"), student("1")])
    with pytest.raises(RosterError, match="duplicate student number"):
        list(iter_roster(duplicate, today=TODAY))


def test_roster_without_data_rows(tmp_path: Path) -> None:
    report = validate_roster(write_csv(tmp_path / "r.csv", [CN_HEADER]), today=TODAY)
    assert [e.message for e in report.errors] == ["file has no data rows"]
    assert not report.ok


def test_errors_are_capped(tmp_path: Path) -> None:
    rows = [CN_HEADER] + [student(str(n), 年级="0") for n in range(MAX_ERRORS + 250)]
    report = validate_roster(write_csv(tmp_path / "r.csv", rows), today=TODAY)
    assert len(report.errors) == MAX_ERRORS
    assert report.errors_truncated == 250
    assert report.rows_total == MAX_ERRORS + 250


def test_normalised_student_numbers_are_duplicates(tmp_path: Path) -> None:
    rows = [CN_HEADER, student("2023001"), student("２０２３００１"), student(" 2023001 ")]
    report = validate_roster(write_csv(tmp_path / "r.csv", rows), today=TODAY)
    assert [e.row for e in report.errors] == [3, 4]


def test_100k_rows_stream_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="gb18030", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CN_HEADER)
        for n in range(100_000):
            birth = dt.date(2008, 1, 1) + dt.timedelta(days=n % 2500)
            writer.writerow(
                [f"S{n:07d}", f"学生{n}", "男女"[n % 2], birth.isoformat(), str(1 + n % 12),
                 f"{n % 20 + 1}班", "", "监护人", "13812345678"]
            )  # fmt: skip
        writer.writerow(student("S0000042"))
    tracemalloc.start()
    try:
        report = validate_roster(path, today=TODAY)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.rows_total == 100_001
    assert [(e.row, e.message) for e in report.errors] == [
        (100_002, "duplicate student number (first seen on row 44)")
    ]
    expected = {(1 + n % 12, f"{n % 20 + 1}班") for n in range(60)} | {(7, "1班")}
    assert report.classes == expected
    assert peak < 30 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
