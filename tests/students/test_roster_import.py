"""Roster import service: validate first, then import atomically in streaming batches."""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
import time
import tracemalloc
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden, Role
from wellbeing.orgs.models import SchoolClass
from wellbeing.students.models import Student, initials_index
from wellbeing.students.roster import iter_roster
from wellbeing.students.services import import_roster

from ..factories import make_class, make_school, make_user

HEADER = ["学号", "姓名", "性别", "出生日期", "年级", "班级", "身份证号", "监护人", "监护人电话"]
ROWS = [
    ["2023001", "张小明", "男", "2012-03-05", "初一", "1班", "11010519491231002X", "张大山", "13800138000"],
    ["2023002", "李华", "女", "2012/7/9", "七年级", "2班", "", "王芳", "13900139000"],
    ["2023003", "欧阳娜娜", "女", "20121111", "7", "1班", "", "", ""],
]  # fmt: skip


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([HEADER, *rows])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def students_of(session, school) -> dict[str, Student]:  # type: ignore[no-untyped-def]
    session.expire_all()
    rows = session.scalars(select(Student).where(Student.school_id == school.id))
    return {s.student_number: s for s in rows}


def count(session, model, **where) -> int:  # type: ignore[no-untyped-def]
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return session.scalar(stmt)


def test_import_creates_students_and_classes(db_session, tmp_path, audit_entries):
    school = make_school(db_session)
    make_class(db_session, school, 7, "1班")
    result = import_roster(db_session, None, school, write_csv(tmp_path / "r.csv", ROWS), "r.csv")
    assert result.ok and (result.created, result.updated, result.unchanged) == (3, 0, 0)
    assert result.classes_created == [(7, "2班")]
    students = students_of(db_session, school)
    zhang = students["2023001"]
    assert (zhang.name, zhang.sex, zhang.birth_date, zhang.grade) == (
        "张小明",
        "M",
        dt.date(2012, 3, 5),
        7,
    )
    assert zhang.national_id == "11010519491231002X"
    assert zhang.guardians == [{"name": "张大山", "phone": "13800138000", "relation": None}]
    assert students["2023003"].guardians is None
    assert zhang.name_initials_bidx == initials_index(school.id, "zxm")
    klass = db_session.get(SchoolClass, students["2023002"].class_id)
    assert (klass.grade, klass.label) == (7, "2班")
    [entry] = audit_entries(AuditAction.ROSTER_IMPORT)
    assert entry.detail["created"] == 3 and entry.detail["classes_created"] == 1
    assert entry.school_id == school.id
    assert "张" not in str(entry.detail)


def test_reimport_is_a_no_op_and_a_changed_row_updates(db_session, tmp_path, audit_entries):
    school = make_school(db_session)
    path = write_csv(tmp_path / "r.csv", ROWS)
    import_roster(db_session, None, school, path, "r.csv")
    before = {n: (s.name_ct, s.updated_at) for n, s in students_of(db_session, school).items()}
    again = import_roster(db_session, None, school, path, "r.csv")
    assert (again.created, again.updated, again.unchanged, again.classes_created) == (0, 0, 3, [])
    assert {
        n: (s.name_ct, s.updated_at) for n, s in students_of(db_session, school).items()
    } == before

    changed = [row[:] for row in ROWS]
    changed[1][1], changed[1][5] = "李华华", "1班"
    result = import_roster(
        db_session, None, school, write_csv(tmp_path / "c.csv", changed), "c.csv"
    )
    assert (result.created, result.updated, result.unchanged) == (0, 1, 2)
    li = students_of(db_session, school)["2023002"]
    assert li.name == "李华华" and li.name_bidx == Student.name.blind_index(school.id, "李华华")
    assert li.name_initials_bidx == initials_index(school.id, "lhh")
    assert db_session.get(SchoolClass, li.class_id).label == "1班"
    assert [e.detail["updated"] for e in audit_entries(AuditAction.ROSTER_IMPORT)] == [0, 0, 1]


def test_blank_optional_cells_keep_stored_values(db_session, tmp_path):
    school = make_school(db_session)
    import_roster(db_session, None, school, write_csv(tmp_path / "r.csv", ROWS), "r.csv")
    blanked = [[*row[:6], "", "", ""] for row in ROWS]
    result = import_roster(
        db_session, None, school, write_csv(tmp_path / "b.csv", blanked), "b.csv"
    )
    assert result.unchanged == 3
    zhang = students_of(db_session, school)["2023001"]
    assert zhang.national_id == "11010519491231002X" and zhang.guardians[0]["name"] == "张大山"


def test_any_error_writes_nothing(db_session, tmp_path, audit_entries):
    school = make_school(db_session)
    bad = [*ROWS, ["2023001", "重复", "男", "2012-01-01", "13", "3班", "", "", ""]]
    result = import_roster(
        db_session, None, school, write_csv(tmp_path / "bad.csv", bad), "bad.csv"
    )
    assert not result.ok
    assert {(e.row, e.column) for e in result.errors} == {(5, "学号"), (5, "年级")}
    assert all("重复" not in e.message for e in result.errors)
    assert count(db_session, Student, school_id=school.id) == 0
    assert count(db_session, SchoolClass, school_id=school.id) == 0
    assert audit_entries(AuditAction.ROSTER_IMPORT) == []


def test_missing_columns_and_unreadable_files_are_reported(db_session, tmp_path):
    school = make_school(db_session)
    path = tmp_path / "r.csv"
    path.write_text("学号,姓名\n1,张三\n", encoding="utf-8")
    result = import_roster(db_session, None, school, path, "r.csv")
    assert len(result.errors) == 1 and "missing required columns" in result.errors[0].message
    junk = tmp_path / "j.xlsx"
    junk.write_bytes(b"not a zip")
    assert [e.message for e in import_roster(db_session, None, school, junk, "j.xlsx").errors] == [
        "not a valid XLSX file"
    ]


def test_dry_run_predicts_and_writes_nothing(db_session, tmp_path, audit_entries):
    school = make_school(db_session)
    path = write_csv(tmp_path / "r.csv", ROWS)
    result = import_roster(db_session, None, school, path, "r.csv", dry_run=True)
    assert result.ok and result.dry_run and result.created == 3
    assert result.classes_created == [(7, "1班"), (7, "2班")]
    assert count(db_session, Student, school_id=school.id) == 0
    assert count(db_session, SchoolClass, school_id=school.id) == 0
    assert audit_entries(AuditAction.ROSTER_IMPORT) == []


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_bom_and_gb18030_files(db_session, tmp_path, encoding):
    school = make_school(db_session)
    path = write_csv(tmp_path / "r.csv", ROWS, encoding=encoding)
    result = import_roster(db_session, None, school, path, "r.csv")
    assert result.created == 3
    assert students_of(db_session, school)["2023003"].name == "欧阳娜娜"


def test_xlsx_upload_stream(db_session, tmp_path):
    school = make_school(db_session)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(
        [2023001, "张小明", "男", dt.datetime(2012, 3, 5), 7, "1班", None, None, 13800138000]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    result = import_roster(db_session, None, school, buffer, "名单.XLSX")
    assert result.ok and result.created == 1, result.errors
    zhang = students_of(db_session, school)["2023001"]
    assert zhang.birth_date == dt.date(2012, 3, 5) and zhang.guardians[0]["phone"] == "13800138000"


def test_numbers_equal_after_folding_are_refused_across_batches(db_session, tmp_path):
    school = make_school(db_session)
    rows = [["a-1", *ROWS[2][1:]], ROWS[0], ROWS[1], ["A-1", *ROWS[2][1:]]]  # 2nd batch: A-1
    path = write_csv(tmp_path / "r.csv", rows)
    result = import_roster(db_session, None, school, path, "r.csv", batch_size=2)
    assert not result.ok and result.errors[0].row == 5
    assert count(db_session, Student, school_id=school.id) == 0


def test_actor_needs_roster_permission(db_session, env, tmp_path):
    school = make_school(db_session)
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    from wellbeing.auth.services import build_principal

    with pytest.raises(Forbidden):
        import_roster(db_session, build_principal(db_session, teacher), school,
                      write_csv(tmp_path / "r.csv", ROWS), "r.csv")  # fmt: skip
    admin = make_user(db_session, env.settings, Role.ADMIN)
    result = import_roster(db_session, build_principal(db_session, admin), school,
                           write_csv(tmp_path / "r.csv", ROWS), "r.csv")  # fmt: skip
    assert result.created == 3


# --------------------------------------------------------------------------- 100k rows


def write_big(path: Path, n: int, prefix: str = "S") -> Path:
    """``n`` rows; files for different schools take different ``prefix``es (the same number,
    name and birth date at another school of the district is the same student: a transfer)."""
    with path.open("w", encoding="gb18030", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i in range(n):
            birth = dt.date(2008, 1, 1) + dt.timedelta(days=i % 2500)
            writer.writerow([
                f"{prefix}{i:07d}", f"学生{i}", "男女"[i % 2], birth.isoformat(), str(1 + i % 12),
                f"{i % 20 + 1}班", "", "监护人", "13812345678",
            ])  # fmt: skip
    return path


def parsed_size(path: Path, sample: int = 2000) -> float:
    """Bytes the parsed rows would take if held in memory, extrapolated from a sample."""
    rows_total = sum(1 for _ in path.open(encoding="gb18030")) - 1
    tracemalloc.start()
    try:
        held = []
        for row in iter_roster(path):
            held.append(row)
            if len(held) == sample:
                break
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return size / sample * rows_total


def traced_import(session, school, path: Path) -> tuple[int, object]:  # type: ignore[no-untyped-def]
    # The same start for every measured import, whatever ran before in this worker: an empty
    # statement cache (a full one evicts and recompiles while traced) and no garbage waiting.
    session.get_bind().engine.clear_compiled_cache()
    gc.collect()
    tracemalloc.start()
    try:
        result = import_roster(session, None, school, path, path.name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok
    return peak, result


@pytest.mark.slow
def test_100k_rows_import(db_session, tmp_path):
    school = make_school(db_session)
    path = write_big(tmp_path / "big.csv", 100_000)
    started = time.process_time()
    result = import_roster(db_session, None, school, path, "big.csv")
    cpu = time.process_time() - started
    print(f"\n100k roster import: {cpu:.1f} s CPU")
    assert result.ok and result.created == 100_000 and len(result.classes_created) == 60
    assert count(db_session, Student, school_id=school.id) == 100_000
    assert count(db_session, SchoolClass, school_id=school.id) == 60


@pytest.mark.slow
def test_import_memory_is_bounded(db_session, tmp_path):
    """Memory grows far slower than the file: rows stream in batches; per row only the parser's
    duplicate check (number -> first row) and an 8-byte index stay until the end."""
    warm = write_big(tmp_path / "warm.csv", 50, "W")  # first use loads pinyin and crypto tables
    import_roster(db_session, None, make_school(db_session), warm, "warm.csv")
    small, large = write_big(tmp_path / "s.csv", 5_000), write_big(tmp_path / "l.csv", 25_000, "L")
    held_small, held_large = parsed_size(small), parsed_size(large)
    peak_small, _ = traced_import(db_session, make_school(db_session), small)
    peak_large, result = traced_import(db_session, make_school(db_session), large)
    print(f"\nroster import peak: {peak_small / 2**20:.1f} MiB for 5k rows, "
          f"{peak_large / 2**20:.1f} MiB for 25k rows; the parsed rows would take "
          f"{held_small / 2**20:.1f} / {held_large / 2**20:.1f} MiB")  # fmt: skip
    assert result.created == 25_000
    assert peak_large - peak_small < (held_large - held_small) / 3
    assert peak_large < held_large
