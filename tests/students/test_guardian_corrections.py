"""Guardians' details corrected by hand on the record, and the rule against roster imports:
an import keeps fields corrected by hand (and says so in its report) until the roster gives
the same value again (issue 14 item 6)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wellbeing.auth.services import build_principal
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden
from wellbeing.students.guardians import (
    CORRECTED,
    GuardianError,
    correct_guardian,
    merge_roster_guardian,
)
from wellbeing.students.services import import_roster

from ..conftest import login
from ..factories import make_class, make_school, staff_set
from .test_roster_import import ROWS, students_of, write_csv


@pytest.fixture
def imported(db_session, env, tmp_path):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    make_class(db_session, school, 7, "1班")
    users = staff_set(db_session, env.settings, school)
    import_roster(db_session, None, school, write_csv(tmp_path / "a.csv", ROWS), "a.csv")
    zhang = students_of(db_session, school)["2023001"]
    psych = build_principal(db_session, users["psych_teacher"])
    return {"school": school, "users": users, "psych": psych, "zhang": zhang, "tmp": tmp_path}


def _reimport(db_session, w, name, phone):  # type: ignore[no-untyped-def]
    rows = [list(ROWS[0]), *ROWS[1:]]
    rows[0][7], rows[0][8] = name, phone
    path = write_csv(w["tmp"] / "b.csv", rows)
    result = import_roster(db_session, None, w["school"], path, "b.csv")
    assert result.ok
    return result, students_of(db_session, w["school"])["2023001"]


def test_a_correction_is_audited_by_field_names_only(db_session, imported, audit_entries):
    w = imported
    changed = correct_guardian(
        db_session, w["psych"], w["zhang"], 0, name="张大山", phone="13911112222", relation="父亲"
    )
    assert changed == ["phone", "relation"]
    assert w["zhang"].guardians == [
        {
            "name": "张大山",
            "phone": "13911112222",
            "relation": "父亲",
            CORRECTED: ["phone", "relation"],
        }
    ]
    entry = audit_entries(AuditAction.STUDENT_UPDATE)[-1]
    assert entry.fields == ["guardians"] and entry.student_id == w["zhang"].id
    assert entry.detail == {"guardian": 0, "changed": ["phone", "relation"], "by_hand": True,
                            "added": False}  # fmt: skip
    text = str(entry.detail)
    for value in ("13911112222", "13800138000", "父亲", "张大山"):
        assert value not in text
    # nothing changed: nothing audited
    before = len(audit_entries(AuditAction.STUDENT_UPDATE))
    assert correct_guardian(db_session, w["psych"], w["zhang"], 0, name="张大山",
                            phone="13911112222", relation="父亲") == []  # fmt: skip
    assert len(audit_entries(AuditAction.STUDENT_UPDATE)) == before


def test_adding_a_guardian_and_refusals(db_session, imported):
    w = imported
    correct_guardian(db_session, w["psych"], w["zhang"], 1, name="李梅", phone="", relation="母亲")
    assert w["zhang"].guardians[1]["name"] == "李梅"
    with pytest.raises(GuardianError):
        correct_guardian(db_session, w["psych"], w["zhang"], 5, name="x", phone="", relation="")
    with pytest.raises(GuardianError):
        correct_guardian(db_session, w["psych"], w["zhang"], 0, name="x", phone="12", relation="")
    with pytest.raises(GuardianError):
        correct_guardian(db_session, w["psych"], w["zhang"], 0, name="", phone="", relation="")
    leader = build_principal(db_session, w["users"]["school_leader"])
    with pytest.raises(Forbidden):
        correct_guardian(db_session, leader, w["zhang"], 0, name="x", phone="", relation="")


def test_a_roster_import_keeps_hand_corrections_until_it_agrees(db_session, imported):
    w = imported
    correct_guardian(db_session, w["psych"], w["zhang"], 0, name="张大山", phone="13911112222",
                     relation="父亲")  # fmt: skip
    # the roster still has the old phone and a new name: the name is updated, the phone kept
    result, zhang = _reimport(db_session, w, "张山", "13800138000")
    assert result.guardian_fields_kept == 1
    assert zhang.guardians[0] == {"name": "张山", "phone": "13911112222", "relation": "父亲",
                                  CORRECTED: ["phone", "relation"]}  # fmt: skip
    # the roster catches up with the correction: the mark is dropped...
    result, zhang = _reimport(db_session, w, "张山", "13911112222")
    assert result.guardian_fields_kept == 0
    assert zhang.guardians[0][CORRECTED] == ["relation"]  # the roster never supplies a relation
    # ...so a later roster change updates the phone again
    result, zhang = _reimport(db_session, w, "张山", "13700001111")
    assert result.guardian_fields_kept == 0 and zhang.guardians[0]["phone"] == "13700001111"


def test_the_import_report_says_what_was_kept(client, db_session, imported):
    w = imported
    correct_guardian(db_session, w["psych"], w["zhang"], 0, name="张大山", phone="13911112222",
                     relation="")  # fmt: skip
    rows = [list(ROWS[0]), *ROWS[1:]]
    rows[0][8] = "13800000000"
    body = write_csv(w["tmp"] / "c.csv", rows).read_bytes()
    login(client, w["users"]["admin"])
    response = client.post("/students/import", data={
        "school": str(w["school"].id), "file": (io.BytesIO(body), "c.csv"),
    }, content_type="multipart/form-data")  # fmt: skip
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-count="guardian_fields_kept">1<' in page


fields = st.one_of(st.none(), st.sampled_from(["甲", "乙"]))


@given(fields, fields, fields, fields, st.sets(st.sampled_from(["name", "phone"])))
@settings(max_examples=200, deadline=None)
def test_merge_rule(stored_name, stored_phone, name, phone, marked):  # type: ignore[no-untyped-def]
    stored = [{"name": stored_name, "phone": stored_phone, "relation": "母亲",
               **({CORRECTED: sorted(marked)} if marked else {})}]  # fmt: skip
    merged = merge_roster_guardian(name, phone, stored)
    if name is None and phone is None:
        assert merged.guardians == stored and merged.kept == 0
        return
    (first,) = merged.guardians or []
    kept = 0
    for field, given_value, old in (("name", name, stored_name), ("phone", phone, stored_phone)):
        if field in marked and given_value != old:
            assert first[field] == old and field in first[CORRECTED]
            kept += 1
        else:
            assert first[field] == given_value and field not in first.get(CORRECTED, [])
    assert merged.kept == kept and first["relation"] == "母亲"


@pytest.mark.parametrize(
    ("role", "status"),
    [("psych_teacher", 200), ("school_leader", 403), ("class_teacher", 403), ("counsellor", 403),
     ("supervisor", 403), ("admin", 403)],
)  # fmt: skip
def test_who_opens_the_correction_form(client, imported, role, status):  # type: ignore[no-untyped-def]
    login(client, imported["users"][role])
    assert client.get(f"/students/{imported['zhang'].id}/guardians/0").status_code == status


def test_the_form_corrects_and_the_record_links_to_it(client, db_session, imported):
    w = imported
    login(client, w["users"]["psych_teacher"])
    record = client.get(f"/students/{w['zhang'].id}").get_data(as_text=True)
    assert f"/students/{w['zhang'].id}/guardians/0" in record
    form = client.get(f"/students/{w['zhang'].id}/guardians/0").get_data(as_text=True)
    assert "13800138000" in form
    response = client.post(f"/students/{w['zhang'].id}/guardians/0",
                           data={"name": "张大山", "phone": "12", "relation": ""})  # fmt: skip
    assert response.status_code == 200  # refused: the form again
    response = client.post(f"/students/{w['zhang'].id}/guardians/0",
                           data={"name": "张大山", "phone": "13911112222", "relation": "父亲"})  # fmt: skip
    assert response.status_code == 302
    db_session.expire_all()
    assert w["zhang"].guardians[0]["phone"] == "13911112222"
    assert client.get(f"/students/{w['zhang'].id}/guardians/9").status_code == 404
