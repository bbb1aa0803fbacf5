"""Every message of the screening import reaches a zh_CN user in Chinese: the messages are
collected from the source (so a new one cannot slip through), each maps to a translated msgid,
and the upload page shows files that trigger them without English text."""

from __future__ import annotations

import ast
import io
import itertools
import re
from pathlib import Path

import pytest
from flask_babel import force_locale

from wellbeing.core.authz import Role
from wellbeing.screening.intake.importer import import_file
from wellbeing.screening.intake.messages import SCREENING_MESSAGES, translate_message
from wellbeing.screening.services import save_mapping

from ..conftest import login
from ..factories import make_class, make_student, make_user
from .helpers import GAD, PHQ, gad, open_campaign, phq, school_with_students, write_csv

ROOT = Path(__file__).resolve().parents[2] / "wellbeing"
# (file, exception or report classes whose message argument is collected, only in function)
SOURCES = (
    ("screening/intake/importer.py", {"RowError": 2, "IntakeError": 0}, None),
    ("screening/intake/pipeline.py", {"RowError": 2, "IntakeError": 0}, None),
    ("screening/services.py", {"RowError": 2}, None),
    ("core/tabular.py", {"TabularError": 0}, None),
    ("students/roster.py", {"FieldError": 0}, "parse_student_number"),
)
# Sample values of f-string placeholders; anything else becomes "7".
SAMPLES = {"where": ("row", "entry"), "column.allowed": ("0, 1, 2, 3",), "code": ("phq9",)}
CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH = re.compile(r"[A-Za-z]{2,}[ ,;:]+[A-Za-z]{2,}")


def _expand(node: ast.expr) -> list[str]:
    """The messages a string literal or f-string can produce, with sample values."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if not isinstance(node, ast.JoinedStr):
        return []
    choices = []
    for part in node.values:
        if isinstance(part, ast.Constant):
            choices.append((str(part.value),))
        else:
            assert isinstance(part, ast.FormattedValue)
            choices.append(SAMPLES.get(ast.unparse(part.value), ("7",)))
    return ["".join(parts) for parts in itertools.product(*choices)]


def _calls(tree: ast.AST, classes: dict[str, int]) -> list[tuple[ast.expr, ast.AST]]:
    """(message argument, enclosing function) of every call of the classes."""
    found = []
    for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        for node in ast.walk(function):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                position = classes.get(node.func.id)
                if position is not None and len(node.args) > position:
                    found.append((node.args[position], function))
    return found


def source_messages() -> set[str]:
    """Every message the import's code can report, collected from the source: literals and
    f-strings passed to the error classes, or assigned to the variable passed to them."""
    messages: set[str] = set()
    for relative, classes, only in SOURCES:
        tree = ast.parse((ROOT / relative).read_text(encoding="utf-8"))
        for arg, function in _calls(tree, classes):
            if only is not None and function.name != only:
                continue
            if isinstance(arg, ast.Name):
                for node in ast.walk(function):
                    if isinstance(node, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == arg.id for t in node.targets
                    ):
                        messages.update(_expand(node.value))
            else:
                messages.update(_expand(arg))
    return messages


def test_the_collector_finds_the_import_messages() -> None:
    messages = source_messages()
    for known in (
        "unknown student number for this school",  # intake, literal
        "student is not active",  # intake, through a variable
        "unknown column",  # importer, through a variable
        "instrument 7 is not part of this campaign",  # importer, f-string in a variable
        "duplicate student (first seen on entry 7)",  # both values of {where}
        "duplicate student (first seen on row 7)",
        "student number is too long",  # roster's parse_student_number
        "file is neither UTF-8 nor GB18030 text",  # tabular
        "malformed CSV at row 7",
        "must be an object",  # the API's entries
    ):
        assert known in messages
    assert len(messages) >= 40


def test_every_import_message_has_a_chinese_translation(app) -> None:  # type: ignore[no-untyped-def]
    untranslated = []
    with app.test_request_context():
        for message in sorted(source_messages()):
            with force_locale("en"):
                english = SCREENING_MESSAGES.find(message)
            with force_locale("zh_CN"):
                chinese = SCREENING_MESSAGES.find(message)
            if english is None or chinese is None or chinese == english or not CJK.search(chinese):
                untranslated.append(message)
            elif ENGLISH.search(chinese):
                untranslated.append(f"{message} -> {chinese}")
    assert untranslated == []


def test_english_messages_read_as_before(app) -> None:  # type: ignore[no-untyped-def]
    with app.test_request_context(), force_locale("en"):
        assert translate_message("not an allowed answer (0, 1, 2, 3)") == (
            "not an allowed answer (0, 1, 2, 3)"
        )
        assert translate_message("duplicate column header: 学号") == "duplicate column header: 学号"
        assert translate_message("something new") == "something new"
    with app.test_request_context(), force_locale("zh_CN"):
        assert translate_message("duplicate student (first seen on row 12)") == (
            "学生重复（首次出现在第 12 行）"
        )
        # people see the instrument's name (from its YAML), not its code (issue 12, item 17)
        missing = translate_message("missing columns for phq9")
        assert "患者健康问卷抑郁量表（PHQ-9）" in missing and "phq9" not in missing
        assert translate_message("something new") == "something new"


# --------------------------------------------------------------------------- the upload page


def _problems(html: str) -> list[str]:
    """The "Problem" cells of the error table, and the warnings."""
    table = re.search(r'id="import-errors".*?</table>', html, re.S)
    cell = r"<tr><td>[^<]*</td><td>[^<]*</td><td>([^<]*)</td></tr>"
    cells = re.findall(cell, table[0]) if table else []
    details = html.split("<details>", 1)[1] if "<details>" in html else ""
    return cells + re.findall(r"<li>[^<:]*: ([^<]*)</li>", details)


def _flashes(html: str) -> list[str]:
    return re.findall(r'class="flash flash-error" role="status">([^<]*)<', html)


def _assert_chinese(texts: list[str]) -> None:
    for text in texts:
        assert CJK.search(text) and not ENGLISH.search(text), text


@pytest.fixture
def world(db_session, env, client):  # type: ignore[no-untyped-def]
    """A zh_CN psychology teacher of school ``a``; ``b`` is another school of the district."""
    a, klass, students = school_with_students(db_session, 4)
    b, _kb, others = school_with_students(db_session, 1)
    young = make_student(db_session, a, make_class(db_session, a, grade=3), student_number="Y-1")
    gone = make_student(db_session, a, klass, student_number="G-1", status="left")
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=a)
    teacher.locale = "zh_CN"
    db_session.flush()
    login(client, teacher)
    return {"a": a, "b": b, "students": students, "others": others, "young": young, "gone": gone}


def _campaign(session, schools, **kw):  # type: ignore[no-untyped-def]
    campaign = open_campaign(session, schools, **kw)
    session.flush()  # the request's session sees only what was flushed
    return campaign


def _upload(client, campaign, text: str | bytes, name: str = "r.csv", **data):  # type: ignore[no-untyped-def]
    body = text.encode() if isinstance(text, str) else text
    return client.post(
        f"/screening/campaigns/{campaign.id}/import",
        data={"file": (io.BytesIO(body), name), **data},
        content_type="multipart/form-data",
    )


def _csv(header: list[str], rows: list[list[object]]) -> str:
    return "\n".join(",".join(str(c) for c in line) for line in [header, *rows]) + "\n"


def test_layout_problems_are_shown_in_chinese(client, db_session, world) -> None:  # type: ignore[no-untyped-def]
    campaign = _campaign(db_session, [world["a"]], instruments=("phq9",))
    pages = [
        # more than one column (student, item), unknown column, other instrument, missing items
        _csv(["student_number", "学号", "phq9_1", "PHQ9-1", "colour", "gad7_1"], []),
        _csv(PHQ, []),  # no student column
        _csv(["student_number"], []),  # no item column
        _csv(["student_number", *PHQ], []),  # no data rows
    ]
    seen = 0
    for text in pages:
        response = _upload(client, campaign, text)
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        problems = _problems(html)
        assert problems, html
        _assert_chinese(problems)
        seen += len(problems)
    assert seen == 8


def test_row_problems_are_shown_in_chinese(client, db_session, world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    campaign = _campaign(db_session, [world["a"]])
    first, second, third, fourth = (s.student_number for s in world["students"])
    earlier = write_csv(tmp_path / "earlier.csv", ["student_number", *PHQ], [[fourth, *phq(3)]])
    assert import_file(db_session, None, campaign, earlier).ok
    rows = [
        ["", *phq(1), *gad(1)],  # required
        ["X" * 40, *phq(1), *gad(1)],  # too long
        ["a!b", *phq(1), *gad(1)],  # invalid characters
        [first, 9, *phq(1)[1:], *gad(1)],  # not an allowed answer
        [second, *[""] * 16],  # no answers
        ["NOPE", *phq(1), *gad(1)],  # unknown student number
        [world["gone"].student_number, *phq(1), *gad(1)],  # not active
        [world["young"].student_number, *phq(1), *gad(1)],  # grade not in the campaign
        [third, *phq(1), *gad(1)],
        [third, *phq(1), *gad(1)],  # duplicate student
        [fourth, *phq(9), *gad(1)],  # a different phq9 response is recorded
    ]
    response = _upload(client, campaign, _csv(["student_number", *PHQ, *GAD], rows))
    assert response.status_code == 400
    problems = _problems(response.get_data(as_text=True))
    assert len(problems) == 10, "|".join(problems)
    _assert_chinese(problems)
    assert "学生重复（首次出现在第 10 行）" in problems


def test_school_problems_are_shown_in_chinese(client, db_session, world) -> None:  # type: ignore[no-untyped-def]
    campaign = _campaign(db_session, [world["a"], world["b"]], district_wide=True)
    first = world["students"][0].student_number
    header = ["school_code", "student_number", *PHQ]
    rows = [
        ["", first, *phq(1)],  # required
        ["ZZZ", first, *phq(1)],  # not a school of the campaign
        [world["b"].code, world["others"][0].student_number, *phq(1)],  # not the teacher's
    ]
    missing = _upload(client, campaign, _csv(header[1:], rows))  # no school_code column
    problems = _problems(missing.get_data(as_text=True))
    response = _upload(client, campaign, _csv(header, rows))
    problems += _problems(response.get_data(as_text=True))
    assert len(problems) == 4
    _assert_chinese(problems)


def test_mapping_warnings_are_shown_in_chinese(client, db_session, world) -> None:  # type: ignore[no-untyped-def]
    campaign = _campaign(db_session, [world["a"]], instruments=("phq9",))
    mapping = {"学生": "student_number"} | {f"题{n}": f"phq9_{n}" for n in range(1, 10)}
    save_mapping(db_session, None, district_id=world["a"].district_id, school=world["a"],
                 name="问卷星", mapping=mapping)  # fmt: skip
    header = ["序号", "学生", *[f"题{n}" for n in range(1, 10)]]
    text = _csv(header, [["1", world["students"][0].student_number, *phq(2)]])
    response = _upload(client, campaign, text, mapping="问卷星", dry_run="y")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    warnings = _problems(html)
    assert len(warnings) == 1
    _assert_chinese(warnings)


def test_refused_files_are_explained_in_chinese(client, db_session, world) -> None:  # type: ignore[no-untyped-def]
    campaign = _campaign(db_session, [world["a"]], instruments=("phq9",))
    files = [
        (b"student_number,phq9_1\n\xff\xfe\x80,1\n", "latin.csv", "文件编码既不是 UTF-8 也不是 GB18030"),
        ("student_number,学号,学号\n", "dup.csv", "表头重复：学号"),
        (b"not a workbook", "r.xlsx", "不是有效的 XLSX 文件"),
        (b"", "empty.csv", "文件为空"),
        (_csv(["student_number", *PHQ], [["x" * 200_000, *phq(1)]]), "long.csv", "CSV 第 2 行格式错误"),
    ]  # fmt: skip
    for body, name, reason in files:
        response = _upload(client, campaign, body, name)
        assert response.status_code == 400
        assert _flashes(response.get_data(as_text=True)) == [f"文件未导入：{reason}"], name
    campaign.state = "closed"
    db_session.flush()
    response = _upload(client, campaign, _csv(["student_number", *PHQ], []))
    assert _flashes(response.get_data(as_text=True)) == ["文件未导入：该测评批次当前不接受作答"]
