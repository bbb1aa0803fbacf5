"""The growth-record timeline in a real browser (zh_CN): every kind of item, the filter by kind
and by date range, axe-core on each state of the page; then the copy for a guardian: the form,
the download, and the downloaded file opened on its own (no request leaves it).

Screenshots (1280×800 and 390×844) go to ``$WELLBEING_SCREENS`` when it is set."""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
from pathlib import Path

import pytest
from pypdf import PdfReader

from wellbeing.alerts.models import Alert, AlertState
from wellbeing.auth.services import build_principal
from wellbeing.crisis.guardian_log import record_guardian_contact
from wellbeing.crisis.models import Crisis, CrisisState, CrisisStep
from wellbeing.db import utcnow
from wellbeing.followups.models import DONE, FollowUp
from wellbeing.notes import services as notes
from wellbeing.notes.services import NoteInput
from wellbeing.risk.models import TierDecision

from ..factories import make_school, make_student, staff_set
from . import axe
from .helpers import shoot, sign_in_as

NOTE = "学生谈到期中考试后情绪低落，愿意每周来谈一次。"


def _world(live_server):  # type: ignore[no-untyped-def]
    """A student with a tier decision, an alert, a closed crisis 40 days ago with its guardian
    contact and consent, a recent consent withdrawal, a follow-up and a signed note."""
    with live_server.db.session() as s:
        school = make_school(s)
        users = staff_set(s, live_server.env.settings, school)
        student = make_student(s, school, name="林小夏", district_involved=True)
        student.guardians = [{"name": "林芳", "phone": "13800138000", "relation": "母亲"}]
        psych = users["psych_teacher"]
        principal = build_principal(s, psych)
        now = utcnow()
        old = now - dt.timedelta(days=40)
        decision = TierDecision(student_id=student.id, school_id=school.id, from_tier=0,
                                to_tier=2, source="manual", decided_by=psych.id)  # fmt: skip
        decision.reason = "谈话后调整为重点关注"
        alert = Alert(
            kind="orange_tier", district_id=school.district_id, school_id=school.id,
            student_id=student.id, tier=2, state=AlertState.ACKNOWLEDGED, due_at=now,
            acknowledged_by_id=psych.id, acknowledged_at=now,
        )  # fmt: skip
        crisis = Crisis(student_id=student.id, school_id=school.id, state=CrisisState.CLOSED,
                        opened_at=old, closed_at=old + dt.timedelta(days=10),
                        closed_by_id=psych.id)  # fmt: skip
        s.add_all([decision, alert, crisis])
        s.flush()
        s.add(CrisisStep(crisis_id=crisis.id, step="assessment", done_at=old, done_by_id=psych.id))
        record_guardian_contact(
            s, principal, student, relation="mother", channel="phone", contacted_at=old,
            summary="告知母亲评估结果，母亲同意转介。", crisis=crisis,
            consent_purpose="referral", consent="given",
        )  # fmt: skip
        record_guardian_contact(
            s, principal, student, relation="father", channel="in_person",
            contacted_at=now - dt.timedelta(days=2), summary="父亲希望暂缓转介。",
            consent_purpose="referral", consent="withdrawn",
        )  # fmt: skip
        followup = FollowUp(
            student_id=student.id, school_id=school.id, owner_id=psych.id,
            due_at=now - dt.timedelta(days=1), source="manual", state=DONE, outcome="seen",
            completed_by=psych.id, completed_at=now - dt.timedelta(days=1),
        )  # fmt: skip
        followup.note = "见面谈话"
        s.add(followup)
        notes.write_note(s, principal, student,
                         NoteInput((now - dt.timedelta(days=3)).date(), "individual", 45, NOTE),
                         sign=True)  # fmt: skip
        return {
            "student_id": student.id, "psych": psych.username, "old": old.date(),
            "counsellor": users["counsellor"].username,
        }  # fmt: skip


def _kinds(page) -> set[str]:  # type: ignore[no-untyped-def]
    return set(page.locator("[data-testid=timeline] > li").evaluate_all(
        "items => items.map(i => i.dataset.kind)"
    ))  # fmt: skip


def test_timeline_filters_and_the_copy_for_a_guardian(live_server, browser_page, tmp_path):
    w = _world(live_server)
    base, page = live_server.url, browser_page
    axe.install(page.context)
    sign_in_as(page, live_server, w["psych"])
    url = f"{base}/students/{w['student_id']}/timeline"
    problems: list[str] = []

    page.goto(url)
    assert "成长档案时间线" in page.locator("main").inner_text()
    assert {"tier", "alert", "crisis", "guardian_contact", "consent", "followup", "note"} <= _kinds(
        page
    )
    assert "撤回" in page.locator("[data-kind=consent]").first.inner_text()
    problems += axe.serious_violations(page, "timeline")
    shoot(page, "timeline-all")

    # Filter by kind: the consent entries only.
    page.click(".timeline-filters summary")
    page.check("input[name=kinds][value=consent]")
    with page.expect_navigation():
        page.click("[data-testid=timeline-filters] button[type=submit]")
    assert _kinds(page) == {"consent"}
    assert page.locator("[data-kind=consent]").count() == 2
    problems += axe.serious_violations(page, "timeline by kind")
    shoot(page, "timeline-kind")

    # Filter by dates: the week of the closed crisis (40 days ago), every kind.
    page.goto(url)
    page.click(".timeline-filters summary")
    page.fill("input[name=since]", (w["old"] - dt.timedelta(days=1)).isoformat())
    page.fill("input[name=until]", (w["old"] + dt.timedelta(days=6)).isoformat())
    with page.expect_navigation():
        page.click("[data-testid=timeline-filters] button[type=submit]")
    assert _kinds(page) == {"crisis", "guardian_contact", "consent"}
    assert "撤回" not in page.locator("main").inner_text()
    problems += axe.serious_violations(page, "timeline by dates")
    shoot(page, "timeline-dates")

    # A bad range: said beside the field, nothing shown.
    page.fill("input[name=since]", "2026-05-02")
    page.fill("input[name=until]", "2026-05-01")
    with page.expect_navigation():
        page.click("[data-testid=timeline-filters] button[type=submit]")
    assert page.locator("[data-testid=timeline]").count() == 0
    assert "截止日期早于起始日期" in page.locator("main").inner_text()

    # The copy for a guardian: the form, then the file.
    page.goto(url)
    with page.expect_navigation():
        page.click("[data-testid=export-link]")
    assert page.locator("input[name=include_restricted]").count() == 0
    problems += axe.serious_violations(page, "export form")
    shoot(page, "export-form")
    page.select_option("select[name=requester]", "mother")
    with page.expect_download() as download_info:
        page.click("[data-testid=export-form] button[type=submit]")
    copy = Path(tmp_path) / "copy.html"
    download_info.value.save_as(copy)
    html = copy.read_text(encoding="utf-8")
    assert NOTE in html and "林小夏" in html and "<script" not in html

    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(copy.as_uri())
    assert requests == [copy.as_uri()], requests  # self-contained: nothing else is fetched
    assert "心理成长档案副本" in page.locator("h1").inner_text()
    problems += axe.serious_violations(page, "the copy")
    shoot(page, "export-copy")
    page.emulate_media(media="print")
    shoot(page, "export-copy-print")
    page.emulate_media(media="screen")
    # The guardian's browser prints it to an A4 PDF (the server itself makes HTML only).
    pdf = PdfReader(io.BytesIO(page.pdf(format="A4")))
    # NFKC: the PDF's font maps some characters to Kangxi radicals (⼩ for 小).
    text = unicodedata.normalize("NFKC", "".join(p.extract_text() for p in pdf.pages))
    assert pdf.pages[0].mediabox.width == pytest.approx(595, abs=2)  # A4: 595 × 842 pt
    assert "林小夏" in text and "辅导记录" in text

    # A district counsellor's form: restricted notes may be included, with a reason.
    sign_in_as(page, live_server, w["counsellor"])
    page.goto(f"{base}/students/{w['student_id']}/export")
    page.select_option("select[name=requester]", "father")
    page.check("input[name=include_restricted]")
    with page.expect_navigation():
        page.click("[data-testid=export-form] button[type=submit]")  # no reason: refused
    assert "请写明包含保密记录的理由" in page.locator("main").inner_text()
    problems += axe.serious_violations(page, "export form, counsellor")
    shoot(page, "export-form-counsellor")
    assert not problems, "axe found serious or critical violations:\n  " + "\n  ".join(problems)
