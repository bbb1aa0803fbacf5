"""Screening pages end to end: campaign creation, upload, progress and results (counts only),
one student's form, the kiosk, the review queue, a student's history chart and FHIR export."""

from __future__ import annotations

import io
import json
import re

from sqlalchemy import func, select

from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.risk.services import apply_rule_tiers
from wellbeing.screening.models import Campaign, Response
from wellbeing.students.models import Student

from ..conftest import login
from ..factories import make_user
from .helpers import GAD, PHQ, gad, open_campaign, phq, school_with_students

HEADER = ",".join(["student_number", *PHQ, *GAD])


def _csv(rows: list[list[object]]) -> io.BytesIO:
    text = "\n".join([HEADER, *(",".join(str(c) for c in r) for r in rows)]) + "\n"
    return io.BytesIO(text.encode())


def test_create_campaign_upload_progress_results(client, db_session, env, audit_entries) -> None:  # type: ignore[no-untyped-def]
    school, _k, students = school_with_students(db_session, 4)
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    login(client, teacher)
    response = client.post("/screening/campaigns/new", data={
        "name": "Autumn 2026", "instruments": ["phq9", "gad7"], "school": str(school.id), "grade_from": "4",
        "grade_to": "12", "opens_on": "2000-01-01", "closes_on": "2999-01-01", "consent_text": "知情同意",
    })  # fmt: skip
    assert response.status_code == 302
    campaign = db_session.scalar(select(Campaign).where(Campaign.name == "Autumn 2026"))
    assert campaign.school_id == school.id and campaign.instruments == ["phq9", "gad7"]
    bad = client.post(f"/screening/campaigns/{campaign.id}/import", data={"file": (_csv([["NOPE", *phq(1), *gad(1)]]), "r.csv")},
                      content_type="multipart/form-data")  # fmt: skip
    assert bad.status_code == 400 and "unknown student number for this school" in bad.get_data(
        as_text=True
    )
    rows = [
        [students[0].student_number, *phq(12), *gad(1)],
        [students[1].student_number, *phq(1, item9=1), *gad(1)],
    ]
    good = client.post(f"/screening/campaigns/{campaign.id}/import", data={"file": (_csv(rows), "r.csv")},
                       content_type="multipart/form-data")  # fmt: skip
    html = good.get_data(as_text=True)
    assert (
        good.status_code == 200
        and 'data-count="created">4<' in html
        and 'data-count="critical">1<' in html
    )
    page = client.get(f"/screening/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'data-count="screened">2<' in page and 'data-count="missing">2<' in page
    leader = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=school)
    login(client, leader)
    results = client.get(f"/screening/campaigns/{campaign.id}/results?by=class")
    text = results.get_data(as_text=True)
    assert results.status_code == 200
    assert (  # a school leader is no case worker: small counts are suppressed (issue 16)
        'data-tier="1">&lt;10<' in text
        and 'data-tier="3">&lt;10<' in text
        and 'data-count="critical">&lt;10<' in text
    )
    for s in students:
        assert s.name not in text and s.student_number not in text
    assert client.get(f"/screening/campaigns/{campaign.id}").status_code == 403


def test_form_entry_and_kiosk(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    school, _k, students = school_with_students(db_session, 3)
    campaign = open_campaign(db_session, [school])
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    login(client, teacher)
    form = client.get(f"/screening/campaigns/{campaign.id}/entry").get_data(as_text=True)
    assert (
        "做事时提不起劲或没有兴趣" in form or "Little interest or pleasure in doing things" in form
    ) and 'name="a__phq9__phq9_9"' in form
    answers = {f"a__phq9__phq9_{n}": "2" for n in range(1, 9)} | {"a__phq9__phq9_9": "0"}
    saved = client.post(
        f"/screening/campaigns/{campaign.id}/entry",
        data={"student_number": students[0].student_number, **answers},
    )
    assert saved.status_code == 302
    row = db_session.scalar(select(Response).where(Response.student_id == students[0].id))
    assert (
        row.source == "form"
        and row.data["scores"]["scales"]["total"]["value"] == 16
        and row.tier == 2
    )
    wrong = client.post(
        f"/screening/campaigns/{campaign.id}/entry", data={"student_number": "nobody", **answers}
    )
    assert wrong.status_code == 400
    # Kiosk for two students: the teacher is signed out on the device, the students answer in turn.
    opened = client.post(f"/screening/campaigns/{campaign.id}/kiosk",
                         data={"student_numbers": f"{students[1].student_number}\n{students[2].student_number}"})  # fmt: skip
    assert opened.status_code == 302
    url = opened.headers["Location"]
    assert (
        client.get("/screening/").status_code == 302
    )  # signed out: only the questionnaire remains
    page = client.get(url).get_data(as_text=True)
    assert "(1/2)" in page and "main-nav" not in page and students[1].name not in page
    first = client.post(url, data={f"a__gad7__gad7_{n}": "1" for n in range(1, 8)})
    assert first.status_code == 302
    done = client.post(url, data={f"a__phq9__phq9_{n}": "0" for n in range(1, 10)})
    assert done.status_code == 200 and 'id="kiosk-thanks"' in done.get_data(as_text=True)
    assert client.get(url).status_code == 404
    sources = {
        (r.student_id, r.instrument, r.source)
        for r in db_session.scalars(select(Response).where(Response.source == "kiosk"))
    }
    assert sources == {(students[1].id, "gad7", "kiosk"), (students[2].id, "phq9", "kiosk")}


def test_review_queue_orders_by_urgency_and_confirms(
    client, db_session, env, audit_entries
) -> None:  # type: ignore[no-untyped-def]
    school, _k, students = school_with_students(db_session, 3)
    campaign = open_campaign(db_session, [school])
    from wellbeing.screening.services import record_answers

    def answers(total: int, item9: int = 0) -> dict[str, dict[str, int | None]]:
        return {"phq9": {f"phq9_{n + 1}": v for n, v in enumerate(phq(total, item9))}}

    record_answers(db_session, None, campaign, students[0], answers(11))  # yellow
    record_answers(db_session, None, campaign, students[1], answers(2, item9=1))  # red, critical
    record_answers(db_session, None, campaign, students[2], answers(16))  # orange
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    login(client, teacher)
    page = client.get("/screening/review").get_data(as_text=True)
    order = re.findall(r'data-student="([0-9a-f-]+)"', page)
    assert order == [str(students[1].id), str(students[2].id), str(students[0].id)]
    listed = audit_entries(AuditAction.SCREENING_LIST)[-1]
    assert set(listed.detail["students"]) == {str(s.id) for s in students}
    decided = client.post(
        f"/screening/review/{students[2].id}", data={"tier": "2", "reason": "Interview confirms"}
    )
    assert decided.status_code == 302
    db_session.expire_all()
    student = db_session.get(Student, students[2].id)
    assert (student.tier, student.tier_provisional) == (2, False)
    changed = client.post(
        f"/screening/review/{students[0].id}", data={"tier": "2", "reason": "Worse in interview"}
    )
    assert changed.status_code == 302
    db_session.expire_all()
    assert db_session.get(Student, students[0].id).tier == 2
    page = client.get("/screening/review").get_data(as_text=True)
    assert re.findall(r'data-student="([0-9a-f-]+)"', page) == [str(students[1].id)]
    assert apply_rule_tiers  # the bulk path used by the imports is the risk module's


def test_review_preselects_no_tier_and_refuses_a_decision_without_one(
    client, db_session, env
) -> None:  # type: ignore[no-untyped-def]
    """A review states a tier: the current one was preselected, so a reason and a click
    confirmed a tier the reviewer never chose."""
    school, _k, students = school_with_students(db_session, 1)
    campaign = open_campaign(db_session, [school])
    from wellbeing.screening.services import record_answers

    answers = {"phq9": {f"phq9_{n + 1}": v for n, v in enumerate(phq(16))}}
    record_answers(db_session, None, campaign, students[0], answers)  # orange, provisional
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    login(client, teacher)
    page = client.get("/screening/review").get_data(as_text=True)
    select = re.search(r'<select name="tier"[^>]*>.*?</select>', page, re.S)
    assert select is not None and "selected" not in select.group(0)
    refused = client.post(f"/screening/review/{students[0].id}", data={"reason": "interview"})
    assert refused.status_code == 303
    db_session.expire_all()
    assert db_session.get(Student, students[0].id).tier_provisional is True
    follow = client.get("/screening/review").get_data(as_text=True)
    assert "Choose the tier you decide on." in follow


def test_history_chart_and_fhir_export(client, db_session, env, audit_entries) -> None:  # type: ignore[no-untyped-def]
    school, _k, students = school_with_students(db_session, 1)
    from wellbeing.screening.services import record_answers

    for n, total in enumerate((4, 12)):
        campaign = open_campaign(db_session, [school], name=f"Round {n}")
        record_answers(db_session, None, campaign, students[0], {
            "phq9": {f"phq9_{i + 1}": v for i, v in enumerate(phq(total))},
            "gad7": {f"gad7_{i + 1}": v for i, v in enumerate(gad(total // 2))},
        })  # fmt: skip
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    login(client, teacher)
    page = client.get(f"/students/{students[0].id}/screening")
    html = page.get_data(as_text=True)
    assert (
        page.status_code == 200 and "<svg" in html and "<polyline" in html and "<script" not in html
    )
    assert audit_entries(AuditAction.SCREENING_VIEW)[-1].student_id == students[0].id
    export = client.get(f"/students/{students[0].id}/screening/fhir")
    assert export.status_code == 200 and export.mimetype == "application/fhir+json"
    bundle = json.loads(export.get_data(as_text=True))
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("QuestionnaireResponse") == 4
    codes = {c["code"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
             for c in e["resource"]["code"]["coding"]}  # fmt: skip
    assert {"44261-6", "70274-6", "44249-1", "69737-5"} <= codes
    exported = audit_entries(AuditAction.RECORD_EXPORT)[-1]
    assert exported.student_id == students[0].id and exported.detail["format"] == "fhir_r4"
    assert students[0].name not in json.dumps(exported.detail)
    record = client.get(f"/students/{students[0].id}")
    if record.status_code == 200:  # the student page shows the screening section
        assert 'data-testid="record-screening"' in record.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(Response)) == 4
