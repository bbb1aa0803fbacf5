"""File import: validation of the whole file, all-or-nothing, idempotent, tiers and events."""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from sqlalchemy import func, select

from wellbeing.core.audit import AuditAction
from wellbeing.core.events import CRITICAL_RESPONSE
from wellbeing.risk.models import TierDecision
from wellbeing.screening.errors import IntakeError
from wellbeing.screening.intake.importer import import_file
from wellbeing.screening.models import Response
from wellbeing.screening.services import save_mapping
from wellbeing.students.models import Student

from .helpers import GAD, PHQ, gad, open_campaign, phq, school_with_students, write_csv

HEADER = ["student_number", *PHQ, *GAD]


@pytest.fixture
def setup(db_session):  # type: ignore[no-untyped-def]
    school, _klass, students = school_with_students(db_session, 4)
    campaign = open_campaign(db_session, [school])
    return school, students, campaign


def _count(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(Response))


def test_import_scores_encrypts_tiers_and_reports(
    db_session, setup, tmp_path, audit_entries
) -> None:  # type: ignore[no-untyped-def]
    school, students, campaign = setup
    critical_seen = []
    handler = CRITICAL_RESPONSE.subscribe(lambda session, c: critical_seen.append(c))
    try:
        rows = [
            [students[0].student_number, *phq(2), *gad(1)],  # green
            [students[1].student_number, *phq(11), *gad(3)],  # yellow (PHQ-9 11)
            [students[2].student_number, *phq(4), *gad(16)],  # orange (GAD-7 16)
            [students[3].student_number, *phq(3, item9=1), *gad(0)],  # red, critical
        ]
        report = import_file(
            db_session, None, campaign, write_csv(tmp_path / "r.csv", HEADER, rows)
        )
    finally:
        CRITICAL_RESPONSE.unsubscribe(handler)
    assert report.ok, report.errors
    assert (report.created, report.unchanged, report.tiers, report.critical) == (
        8,
        0,
        [1, 1, 1, 1],
        1,
    )
    assert report.summary_lines()[-2:] == ["tiers: green=1 yellow=1 orange=1 red=1", "critical: 1"]
    assert [(c.student_id, c.instrument) for c in critical_seen] == [(students[3].id, "phq9")]
    responses = {(r.student_id, r.instrument): r for r in db_session.scalars(select(Response))}
    red = responses[(students[3].id, "phq9")]
    assert (
        red.critical
        and red.tier == 3
        and red.tier_rule == "phq9_item9_red"
        and red.total_band == "minimal"
    )
    assert (
        red.data["answers"]["phq9_9"] == 1 and red.data["scores"]["scales"]["total"]["value"] == 4
    )
    assert b'"phq9_9"' not in red.data_ct  # answers are ciphertext in the row
    db_session.expire_all()
    tiers = {
        s.id: (s.tier, s.tier_provisional)
        for s in db_session.scalars(select(Student).where(Student.school_id == school.id))
    }
    assert tiers[students[0].id] == (0, False)
    assert tiers[students[1].id] == (1, True) and tiers[students[3].id] == (3, True)
    decision = db_session.scalar(
        select(TierDecision).where(TierDecision.student_id == students[3].id)
    )
    assert decision.source == "screening" and decision.source_id == red.id
    entry = audit_entries(AuditAction.SCREENING_IMPORT)[-1]
    assert entry.detail["created"] == 8 and "phq9" not in str(entry.detail)


def test_reimport_changes_nothing(db_session, setup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _school, students, campaign = setup
    path = write_csv(
        tmp_path / "r.csv", HEADER, [[s.student_number, *phq(12), *gad(2)] for s in students]
    )
    first = import_file(db_session, None, campaign, path)
    decisions = db_session.scalar(select(func.count()).select_from(TierDecision))
    again = import_file(db_session, None, campaign, path)
    assert (first.created, again.created, again.unchanged) == (8, 0, 8)
    assert again.tiers == [0, 0, 0, 0] and again.critical == 0
    assert _count(db_session) == 8
    assert db_session.scalar(select(func.count()).select_from(TierDecision)) == decisions


def test_changed_answers_for_a_recorded_response_are_refused(db_session, setup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _school, students, campaign = setup
    import_file(
        db_session,
        None,
        campaign,
        write_csv(tmp_path / "a.csv", HEADER, [[students[0].student_number, *phq(1), *gad(1)]]),
    )
    report = import_file(
        db_session,
        None,
        campaign,
        write_csv(tmp_path / "b.csv", HEADER, [[students[0].student_number, *phq(5), *gad(1)]]),
    )
    assert [str(e) for e in report.errors] == [
        "row 2, column student_number: a different phq9 response is already recorded for this student"
    ]


def test_whole_file_is_validated_and_nothing_written(db_session, setup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _school, students, campaign = setup
    other_school, _k, others = school_with_students(db_session, 1)
    rows = [
        [students[0].student_number, *phq(3), *gad(3)],  # fine (but must not be written)
        ["NOPE-1", *phq(1), *gad(1)],  # unknown student
        [students[1].student_number, 4, *phq(1)[1:], *gad(1)],  # out of range
        [students[0].student_number, *phq(1), *gad(1)],  # duplicate
        [others[0].student_number, *phq(1), *gad(1)],  # another school's student
        ["", *phq(1), *gad(1)],  # missing number
        [students[2].student_number, *[""] * 16],  # no answers
        [students[3].student_number, *phq(1)[:8], "x", *gad(1)],  # not an option
    ]
    report = import_file(db_session, None, campaign, write_csv(tmp_path / "bad.csv", HEADER, rows))
    assert [str(e) for e in report.errors] == [
        "row 4, column phq9_1: not an allowed answer (0, 1, 2, 3)",
        "row 7, column student_number: required",
        "row 8, column : no answers in this row",
        "row 9, column phq9_9: not an allowed answer (0, 1, 2, 3)",
        "row 3, column student_number: unknown student number for this school",
        "row 6, column student_number: unknown student number for this school",
        "row 5, column student_number: duplicate student (first seen on row 2)",
    ]
    assert _count(db_session) == 0
    assert db_session.scalar(select(func.count()).select_from(TierDecision)) == 0
    assert other_school.id != campaign.id


def test_wrong_columns(db_session, setup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _school, students, campaign = setup
    header = ["学号", *PHQ[:8], "colour", "scl90_1"]
    report = import_file(
        db_session,
        None,
        campaign,
        write_csv(tmp_path / "c.csv", header, [[students[0].student_number, *[0] * 10]]),
    )
    messages = [str(e) for e in report.errors]
    assert "row 1, column colour: unknown column" in messages
    assert "row 1, column scl90_1: unknown column" in messages
    assert "row 1, column phq9_9: missing columns for phq9" in messages
    assert _count(db_session) == 0


def test_instrument_not_in_campaign(db_session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    school, _k, students = school_with_students(db_session, 1)
    campaign = open_campaign(db_session, [school], instruments=("phq9",))
    report = import_file(
        db_session,
        None,
        campaign,
        write_csv(tmp_path / "c.csv", HEADER, [[students[0].student_number, *phq(1), *gad(1)]]),
    )
    assert "row 1, column gad7_1: instrument gad7 is not part of this campaign" in [
        str(e) for e in report.errors
    ]


def test_wrong_encoding_is_refused(db_session, setup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _school, _students, campaign = setup
    path = tmp_path / "latin.csv"
    path.write_bytes(b"student_number,phq9_1\n\xff\xfe\x80,1\n")
    from wellbeing.core.tabular import TabularError

    with pytest.raises(TabularError, match="neither UTF-8 nor GB18030"):
        import_file(db_session, None, campaign, path)


def test_gb18030_labels_xlsx_and_partial_instrument(db_session, setup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _school, students, campaign = setup
    # GB18030 CSV with Chinese option labels as answers, PHQ-9 only, item 10 absent.
    rows = [[students[0].student_number, *["好几天"] * 8, "完全不会"]]
    path = write_csv(tmp_path / "gb.csv", ["学号", *PHQ], rows, encoding="gb18030")
    report = import_file(db_session, None, campaign, path)
    assert report.ok and report.created == 1 and report.tiers == [1, 0, 0, 0]
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append([students[1].student_number, *[3] * 9, *[3] * 7])
    book.save(tmp_path / "r.xlsx")
    report = import_file(db_session, None, campaign, tmp_path / "r.xlsx")
    assert report.ok and report.tiers == [0, 0, 0, 1] and report.critical == 1


def test_incomplete_response_is_flagged(db_session, setup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _school, students, campaign = setup
    row = [students[0].student_number, *phq(1)[:8], "", *gad(2)]
    assert import_file(db_session, None, campaign, write_csv(tmp_path / "i.csv", HEADER, [row])).ok
    phq_row = db_session.scalar(select(Response).where(Response.instrument == "phq9"))
    assert phq_row.incomplete and phq_row.total_band is None and phq_row.tier == 0


def test_saved_mapping_for_survey_platform_headers(db_session, setup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    school, students, campaign = setup
    headers = ["序号", "提交时间", "请输入学号", *[f"{n}. 题目{n}" for n in range(1, 10)]]
    mapping = {"序号": "", "提交时间": "", "请输入学号": "student_number"} | {
        f"{n}. 题目{n}": f"phq9_{n}" for n in range(1, 10)
    }
    save_mapping(
        db_session,
        None,
        district_id=school.district_id,
        school=school,
        name="问卷星",
        mapping=mapping,
    )
    path = write_csv(
        tmp_path / "wjx.csv", headers, [["1", "2026-03-01", students[0].student_number, *phq(16)]]
    )
    report = import_file(db_session, None, campaign, path, mapping_name="问卷星")
    assert report.ok and report.tiers == [0, 0, 1, 0]
    unmapped = import_file(db_session, None, campaign, path)
    assert not unmapped.ok
    with pytest.raises(IntakeError, match="no column mapping"):
        import_file(db_session, None, campaign, path, mapping_name="nope")


def test_dry_run_writes_nothing_but_reports_tiers(db_session, setup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _school, students, campaign = setup
    path = write_csv(tmp_path / "r.csv", HEADER, [[students[0].student_number, *phq(20), *gad(0)]])
    report = import_file(db_session, None, campaign, path, dry_run=True)
    assert report.ok and report.tiers == [0, 0, 1, 0] and _count(db_session) == 0
    db_session.expire_all()
    assert db_session.get(Student, students[0].id).tier == 0


def test_district_campaign_needs_school_code(db_session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, _k, sa = school_with_students(db_session, 1)
    b, _k, sb = school_with_students(db_session, 1)
    campaign = open_campaign(db_session, [a, b], district_wide=True)
    path = write_csv(tmp_path / "d.csv", HEADER, [[sa[0].student_number, *phq(1), *gad(1)]])
    assert "missing column school_code" in str(
        import_file(db_session, None, campaign, path).errors[0]
    )
    rows = [[a.code, sa[0].student_number, *phq(1), *gad(1)], [b.code, sb[0].student_number, *phq(1), *gad(1)],
            ["ZZZ", "x1", *phq(1), *gad(1)]]  # fmt: skip
    report = import_file(
        db_session, None, campaign, write_csv(tmp_path / "d2.csv", ["school_code", *HEADER], rows)
    )
    assert [str(e) for e in report.errors] == [
        "row 4, column school_code: school is not part of this campaign"
    ]
    assert (
        import_file(
            db_session,
            None,
            campaign,
            write_csv(tmp_path / "d3.csv", ["school_code", *HEADER], rows[:2]),
        ).created
        == 4
    )


def test_grade_outside_campaign_and_closed_campaign(db_session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    school, _k, students = school_with_students(db_session, 1, grade=3)
    campaign = open_campaign(db_session, [school], grades=range(4, 13))
    report = import_file(
        db_session,
        None,
        campaign,
        write_csv(tmp_path / "g.csv", HEADER, [[students[0].student_number, *phq(1), *gad(1)]]),
    )
    assert [e.message for e in report.errors] == ["student's grade is not part of this campaign"]
    campaign.state = "closed"
    with pytest.raises(IntakeError, match="not open"):
        import_file(db_session, None, campaign, tmp_path / "g.csv")


# --------------------------------------------------------------------------- CLI


def _cli_env(env) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"WELLBEING_DATABASE_URL": env.settings.database_url, "WELLBEING_KEY_FILE": str(env.key_file),
            "WELLBEING_SECRET_KEY": "x" * 48}  # fmt: skip


def test_cli_campaign_add_and_import(fresh_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from wellbeing.cli import main

    with fresh_env.db.session() as session:
        school, _k, students = school_with_students(session, 2)
        code, numbers = school.code, [s.student_number for s in students]
    runner = CliRunner()
    result = runner.invoke(main, ["screening", "campaigns", "add", "--name", "Spring", "--instruments", "phq9,gad7",
                                  "--school", code, "--grades", "4-12", "--opens", "2000-01-01", "--closes", "2999-12-31"],
                           env=_cli_env(fresh_env))  # fmt: skip
    assert result.exit_code == 0, result.output
    campaign_id = uuid.UUID(result.output.strip().splitlines()[-1])
    good = write_csv(
        tmp_path / "good.csv",
        HEADER,
        [[numbers[0], *phq(10), *gad(0)], [numbers[1], *phq(0, item9=2), *gad(0)]],
    )
    dry = runner.invoke(
        main,
        ["screening", "import", str(good), "--campaign", str(campaign_id), "--dry-run"],
        env=_cli_env(fresh_env),
    )
    assert dry.exit_code == 0 and "dry run" in dry.output
    result = runner.invoke(
        main,
        ["screening", "import", str(good), "--campaign", str(campaign_id)],
        env=_cli_env(fresh_env),
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-2:] == [
        "tiers: green=0 yellow=1 orange=0 red=1",
        "critical: 1",
    ]
    again = runner.invoke(
        main,
        ["screening", "import", str(good), "--campaign", str(campaign_id)],
        env=_cli_env(fresh_env),
    )
    assert again.output.strip().splitlines()[-2:] == [
        "tiers: green=0 yellow=0 orange=0 red=0",
        "critical: 0",
    ]
    bad = write_csv(
        tmp_path / "bad.csv",
        HEADER,
        [["S-unknown", *phq(1), *gad(1)], [numbers[0], 9, *phq(1)[1:], *gad(1)]],
    )
    result = runner.invoke(
        main,
        ["screening", "import", str(bad), "--campaign", str(campaign_id)],
        env=_cli_env(fresh_env),
    )
    assert result.exit_code == 1
    assert "row 3, column phq9_1: not an allowed answer (0, 1, 2, 3)" in result.output
    assert "row 2, column student_number: unknown student number for this school" in result.output
    with fresh_env.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 4
    usage = runner.invoke(main, ["screening", "campaigns", "add", "--name", "x", "--instruments", "phq9", "--school", code,
                                 "--grades", "0-15", "--opens", "2000-01-01", "--closes", "2999-01-01"], env=_cli_env(fresh_env))  # fmt: skip
    assert usage.exit_code == 2
    refused = runner.invoke(main, ["screening", "campaigns", "add", "--name", "x", "--instruments", "nope", "--school", code,
                                   "--opens", "2000-01-01", "--closes", "2999-01-01"], env=_cli_env(fresh_env))  # fmt: skip
    assert refused.exit_code == 1 and "Unknown instruments: nope" in refused.output
