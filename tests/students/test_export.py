"""Copy of the growth record for a guardian (PIPL access request, issue 14 item 10): one
self-contained Chinese HTML file; restricted notes only when a district counsellor includes
them with a reason; audited as an export (the supervisor's export queue), fields not values;
refused under break-glass. Also the timeline's consent entries and its per-kind cap message."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from wellbeing.auth.services import build_principal
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden
from wellbeing.crisis.guardian_log import record_guardian_contact
from wellbeing.db import utcnow
from wellbeing.notes import services as notes
from wellbeing.notes.services import NoteInput
from wellbeing.risk.models import TierDecision
from wellbeing.students import export
from wellbeing.students.models import RecordExport

from ..authz import build_world
from ..conftest import login
from ..factories import PASSWORD

NORMAL, RESTRICTED, DRAFT = "普通记录：谈到了考试压力。", "受限记录：家庭情况。", "草稿：尚未签名。"
ADDENDUM, CONTACT = "补充：下次约在周三。", "电话内容：母亲同意转介。"
REASON = "母亲书面申请查阅全部记录，区心理中心审核同意。"


def _principal(w, role):  # type: ignore[no-untyped-def]
    return build_principal(w.session, w.users[role])


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    """A district-involved student of the own school with notes (normal + addendum, restricted,
    draft), a guardian contact with a consent entry and a tier decision."""
    w = build_world(db_session, env.settings)
    student = w.own_student
    student.district_involved = True
    student.guardians = [{"name": "王芳", "phone": "13800138000", "relation": "母亲"}]
    psych = _principal(w, "psych_teacher")
    when = utcnow() - dt.timedelta(days=3)
    day = when.date()
    normal = notes.write_note(db_session, psych, student, NoteInput(day, "individual", 40, NORMAL),
                              sign=True)  # fmt: skip
    notes.write_note(db_session, psych, student, NoteInput(day, "phone", 10, RESTRICTED,
                     restricted=True), sign=True)  # fmt: skip
    notes.write_note(db_session, psych, student, NoteInput(day, "group", 30, DRAFT), sign=False)
    db_session.flush()
    notes.add_addendum(db_session, psych, normal, ADDENDUM)
    record_guardian_contact(
        db_session, psych, student, relation="mother", channel="phone", contacted_at=when,
        summary=CONTACT, consent_purpose="referral", consent="given",
    )  # fmt: skip
    decision = TierDecision(
        student_id=student.id, school_id=student.school_id, from_tier=0, to_tier=2,
        source="manual", decided_by=w.users["psych_teacher"].id, decided_at=when,
    )  # fmt: skip
    decision.reason = "谈话后调整"
    db_session.add(decision)
    db_session.flush()
    return w


def _as(client, w, role):  # type: ignore[no-untyped-def]
    with client.session_transaction() as sess:
        sess.clear()
    login(client, w.users[role])


def _post(client, w, **data):  # type: ignore[no-untyped-def]
    return client.post(f"/students/{w.own_student.id}/export", data=data)


def test_the_psychology_teacher_downloads_one_self_contained_chinese_file(client, world):
    _as(client, world, "psych_teacher")
    page = client.get(f"/students/{world.own_student.id}/export")
    assert page.status_code == 200
    form = page.get_data(as_text=True)
    assert 'name="requester"' in form and "include_restricted" not in form
    response = _post(client, world, requester="mother")
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "text/html"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=record-copy-")
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "@page" in html and "@media print" in html
    # Self-contained: no script, no external asset of any kind.
    assert not re.search(r"<script|<link|<img|<iframe|src=|@import|url\(", html, re.I)
    assert "href=" not in html
    # Identity (least data: no student number), guardians, the record's kinds in words.
    assert world.own_student.name in html and world.own_student.student_number not in html
    assert "王芳" in html and "13800138000" in html
    assert "心理成长档案副本" in html and "母亲" in html
    for kind in ("tier", "screening", "note", "guardian_contact", "consent"):
        if kind == "screening":
            continue  # this student has no screening
        assert f'data-kind="{kind}"' in html, kind
    assert NORMAL in html and ADDENDUM in html
    assert (
        RESTRICTED not in html and DRAFT not in html and "保密记录" not in html.split("<main>")[1]
    )
    assert "不包括保密记录" in html  # the copy says restricted notes are left out


def test_the_copy_is_audited_as_an_export_naming_fields_not_values(
    client, world, db_session, audit_entries
):
    _as(client, world, "psych_teacher")
    assert _post(client, world, requester="father").status_code == 200
    (entry,) = audit_entries(AuditAction.GUARDIAN_COPY)
    assert entry.action.endswith(":export") and entry.student_id == world.own_student.id
    assert entry.detail["requester"] == "father" and entry.detail["restricted_notes"] is False
    assert {"name", "guardians", "timeline.note", "note.content", "timeline.consent"} <= set(
        entry.fields
    )
    assert "reason" not in entry.fields
    text = repr((entry.fields, entry.detail, entry.purpose))
    for value in (NORMAL, "王芳", world.own_student.name, "13800138000"):
        assert value not in text
    row = db_session.get(RecordExport, __import__("uuid").UUID(entry.object_id))
    assert row is not None and row.requester == "father" and row.reason is None


def test_the_copy_is_in_the_supervisors_export_queue(client, world, db_session):
    from wellbeing.audit import queries

    _as(client, world, "psych_teacher")
    assert _post(client, world, requester="mother").status_code == 200
    page = queries.search(db_session, queries.queue_filter("exports", queries.EntryFilter().tz))
    assert str(AuditAction.GUARDIAN_COPY) in {row.action for row in page.entries}
    _as(client, world, "supervisor")
    html = client.get("/audit/queues/exports").get_data(as_text=True)
    assert "Made a copy of a record for a guardian" in html


def test_a_district_counsellor_includes_restricted_notes_with_a_reason(
    client, world, db_session, audit_entries
):
    _as(client, world, "counsellor")
    form = client.get(f"/students/{world.own_student.id}/export").get_data(as_text=True)
    assert 'name="include_restricted"' in form and 'name="reason"' in form
    # Ticked without a reason: refused, with words beside the field, nothing audited.
    refused = _post(client, world, requester="mother", include_restricted="y", reason="因为")
    assert refused.status_code == 400
    assert "Write why restricted notes are included" in refused.get_data(as_text=True)
    assert audit_entries(AuditAction.GUARDIAN_COPY) == []
    response = _post(client, world, requester="mother", include_restricted="y", reason=REASON)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert RESTRICTED in html and NORMAL in html and DRAFT not in html
    assert REASON not in html  # the reason is for the supervisors, not in the guardian's copy
    (entry,) = audit_entries(AuditAction.GUARDIAN_COPY)
    assert entry.detail["restricted_notes"] is True and "reason" in entry.fields
    assert REASON not in repr((entry.fields, entry.detail))
    row = db_session.scalars(select(RecordExport)).one()
    assert row.include_restricted and row.reason == REASON


def test_without_the_tick_a_counsellor_copy_leaves_restricted_notes_out(client, world):
    _as(client, world, "counsellor")
    html = _post(client, world, requester="student", reason=REASON).get_data(as_text=True)
    assert NORMAL in html and RESTRICTED not in html


def test_only_a_district_counsellor_may_include_restricted_notes(client, world, db_session):
    # The psychology teacher's form has no such field: a forged one is ignored...
    _as(client, world, "psych_teacher")
    html = _post(client, world, requester="mother", include_restricted="y", reason=REASON)
    assert RESTRICTED not in html.get_data(as_text=True)
    # ...and the service refuses it outright (even to the restricted note's own author).
    request = export.ExportRequest("mother", include_restricted=True, reason=REASON)
    with pytest.raises(Forbidden):
        export.make_copy(db_session, _principal(world, "psych_teacher"), world.own_student.id,
                         request)  # fmt: skip


def test_a_requester_must_be_chosen(client, world):
    _as(client, world, "psych_teacher")
    response = _post(client, world, requester="")
    assert response.status_code == 400
    assert "Choose who asked for the copy." in response.get_data(as_text=True)
    with pytest.raises(export.ExportError):
        export.check_request(_principal(world, "psych_teacher"), world.own_student,
                             export.ExportRequest("neighbour"))  # fmt: skip


def test_no_copy_under_break_glass(client, world, db_session, audit_entries):
    """A counsellor reaching a student through break-glass reads on screen, never exports."""
    world.own_student.district_involved = False
    db_session.flush()
    _as(client, world, "counsellor")
    assert client.get(f"/students/{world.own_student.id}/export").status_code == 403
    started = client.post(
        f"/break-glass/{world.own_student.id}",
        data={"reason": "Hotline call: student in crisis, school unreachable", "password": PASSWORD},
    )  # fmt: skip
    assert started.status_code == 302
    page = client.get(f"/students/{world.own_student.id}/export")
    assert page.status_code == 403
    assert "not available while you hold break-glass" in page.get_data(as_text=True)
    assert _post(client, world, requester="mother").status_code == 403
    assert audit_entries(AuditAction.GUARDIAN_COPY) == []


def test_the_timeline_links_to_the_copy_for_those_who_may_make_it(client, world):
    _as(client, world, "psych_teacher")
    html = client.get(f"/students/{world.own_student.id}/timeline").get_data(as_text=True)
    assert f"/students/{world.own_student.id}/export" in html
    _as(client, world, "school_leader")
    html = client.get(f"/students/{world.own_student.id}/timeline").get_data(as_text=True)
    assert "/export" not in html


def test_consent_entries_are_their_own_kind_on_the_timeline(client, world):
    _as(client, world, "psych_teacher")
    html = client.get(f"/students/{world.own_student.id}/timeline?kinds=consent").get_data(
        as_text=True
    )
    assert set(re.findall(r'data-kind="([a-z_]+)"', html)) == {"consent"}
    assert "Consent given (Referral)" in html and "Guardian: Mother" in html
    assert CONTACT not in html


def test_a_kind_at_the_row_cap_says_so_in_words(client, world, monkeypatch):
    from wellbeing.students import timeline, views

    monkeypatch.setattr(timeline, "PER_KIND_LIMIT", 1)
    monkeypatch.setattr(views, "PER_KIND_LIMIT", 1)
    _as(client, world, "psych_teacher")
    html = client.get(f"/students/{world.own_student.id}/timeline").get_data(as_text=True)
    capped = re.findall(r'data-testid="timeline-capped">([^<]*)<', html)
    assert any("Showing the newest 1 item of “Counselling notes” only" in c for c in capped)
    assert all("Narrow the dates" in c for c in capped)
    monkeypatch.setattr(timeline, "PER_KIND_LIMIT", 500)
    html = client.get(f"/students/{world.own_student.id}/timeline").get_data(as_text=True)
    assert "timeline-capped" not in html
