"""Issue 12, screening: the campaign form ticks nothing for the user (item 2); campaign status
from the local dates (item 3); the kiosk refuses already screened students before they start,
keeps answers it cannot record, lets the queue go on and closes on time (item 4); refusals in
the user's language with the numbers named (16) and instrument names instead of codes (17)."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from wellbeing.core.authz import Role
from wellbeing.core.jobs import JobContext
from wellbeing.db import utcnow
from wellbeing.screening import jobs
from wellbeing.screening.clock import local_today
from wellbeing.screening.kiosk.service import close_expired, load_kiosk, open_kiosk
from wellbeing.screening.models import Campaign, HeldAnswers, KioskSession, Response
from wellbeing.screening.services import record_answers

from ..conftest import BACKENDS, login
from ..factories import make_user
from .helpers import open_campaign, phq, school_with_students

PHQ_NAME_ZH = "患者健康问卷抑郁量表（PHQ-9）"


class _Boxes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.boxes: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("type") == "checkbox":
            self.boxes.append(found)


def _chinese(client) -> None:  # type: ignore[no-untyped-def]
    client.post("/locale", data={"locale": "zh_CN", "next": "/"})


def _text(html: str) -> str:
    """The visible text of a page (no tags, no attributes)."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html))


def _phq_answers(total: int = 0) -> dict[str, dict[str, int | None]]:
    return {"phq9": {f"phq9_{n + 1}": v for n, v in enumerate(phq(total))}}


def _form(total: int) -> dict[str, str]:
    return {f"a__phq9__phq9_{n + 1}": str(v) for n, v in enumerate(phq(total))}


# --------------------------------------------------------------------------- item 2


def test_campaign_form_ticks_nothing_and_makes_a_phq9_only_campaign(
    client, db_session, env
) -> None:  # type: ignore[no-untyped-def]
    school, _k, _students = school_with_students(db_session, 1)
    login(client, make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school))
    page = client.get("/screening/campaigns/new").get_data(as_text=True)
    parser = _Boxes()
    parser.feed(page)
    boxes = [b for b in parser.boxes if b.get("name") == "instruments"]
    assert {b["value"] for b in boxes} == {"phq9", "gad7"}
    assert not any("checked" in b or "required" in b for b in boxes)
    data = {"name": "PHQ only", "school": str(school.id), "grade_from": "7", "grade_to": "9",
            "opens_on": "2000-01-01", "closes_on": "2999-01-01"}  # fmt: skip
    _chinese(client)
    none = client.post("/screening/campaigns/new", data=data)
    assert none.status_code == 400 and "请至少选择一个量表。" in none.get_data(as_text=True)
    made = client.post("/screening/campaigns/new", data=data | {"instruments": ["phq9"]})
    assert made.status_code == 302
    campaign = db_session.scalar(select(Campaign).where(Campaign.name == "PHQ only"))
    assert campaign.instruments == ["phq9"]


# --------------------------------------------------------------------------- item 3


def test_campaign_phase_follows_the_local_date() -> None:
    # 17:30 UTC on 1 March is 01:30 on 2 March in Shanghai
    late = dt.datetime(2026, 3, 1, 17, 30, tzinfo=dt.UTC)
    assert local_today(late) == dt.date(2026, 3, 2)
    campaign = Campaign(opens_on=dt.date(2026, 3, 2), closes_on=dt.date(2026, 3, 9), state="open")
    assert campaign.phase(dt.date(2026, 3, 1)) == "upcoming"
    assert campaign.phase(local_today(late)) == "open" and campaign.accepts_on(local_today(late))
    assert campaign.phase(dt.date(2026, 3, 10)) == "closed"
    campaign.state = "closed"
    assert campaign.phase(dt.date(2026, 3, 5)) == "closed"


def test_campaign_list_shows_not_yet_open_open_and_closed(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    school, _k, _students = school_with_students(db_session, 1)
    today = local_today()
    day = dt.timedelta(days=1)
    made = {
        "upcoming": open_campaign(db_session, [school], name="Tomorrow", opens_on=today + day,
                                  closes_on=today + 8 * day),
        "open": open_campaign(db_session, [school], name="Now"),
        "closed": open_campaign(db_session, [school], name="Last term", opens_on=today - 30 * day,
                                closes_on=today - day),
    }  # fmt: skip
    login(client, make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school))
    _chinese(client)
    page = client.get("/screening/").get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-phase="(\w+)">\s*<td>([^<]+)</td>', page))
    assert rows == {"upcoming": "Tomorrow", "open": "Now", "closed": "Last term"}
    tomorrow_row = page[page.index(">Tomorrow<") :].split("</tr>")[0]
    assert "未开始" in tomorrow_row and "已结束" not in tomorrow_row
    detail = client.get(f"/screening/campaigns/{made['upcoming'].id}").get_data(as_text=True)
    assert "未开始" in detail.split('id="campaign-phase"')[1][:200]


# --------------------------------------------------------------------------- item 17


def test_screening_pages_name_instruments_not_codes(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    school, _k, _students = school_with_students(db_session, 1)
    campaign = open_campaign(db_session, [school])
    login(client, make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school))
    _chinese(client)
    for url in ("/screening/", f"/screening/campaigns/{campaign.id}",
                f"/screening/campaigns/{campaign.id}/results"):  # fmt: skip
        text = _text(client.get(url).get_data(as_text=True))
        assert PHQ_NAME_ZH in text, url
        assert not re.search(r"\b(phq9|gad7)\b", text), url


# --------------------------------------------------------------------------- item 16


def test_refusals_are_translated_before_they_are_filled(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    school, _k, students = school_with_students(db_session, 1)
    campaign = open_campaign(db_session, [school], instruments=("phq9",))
    record_answers(db_session, None, campaign, students[0], _phq_answers(3))
    login(client, make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school))
    _chinese(client)
    # a different PHQ-9 for a student who has one: the duplicate message, in Chinese, named
    duplicate = client.post(f"/screening/campaigns/{campaign.id}/entry",
                            data={"student_number": students[0].student_number, **_form(12)})  # fmt: skip
    html = duplicate.get_data(as_text=True)
    assert duplicate.status_code == 400
    assert f"该学生已有一份不同的 {PHQ_NAME_ZH} 作答记录" in html and "already recorded" not in html
    # a formatted service refusal: the instrument is not for grades 1-3
    young = client.post("/screening/campaigns/new", data={
        "name": "Young", "instruments": ["phq9"], "school": str(school.id), "grade_from": "1",
        "grade_to": "3", "opens_on": "2000-01-01", "closes_on": "2999-01-01"})  # fmt: skip
    assert young.status_code == 400
    assert f"{PHQ_NAME_ZH} 不适用于这些年级。" in young.get_data(as_text=True)


# --------------------------------------------------------------------------- item 4


def test_kiosk_names_unknown_and_already_screened_numbers_to_the_teacher(
    client, db_session, env
) -> None:  # type: ignore[no-untyped-def]
    school, _k, students = school_with_students(db_session, 3)
    campaign = open_campaign(db_session, [school])
    record_answers(db_session, None, campaign, students[0], _phq_answers(2))
    login(client, make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school))
    _chinese(client)
    url = f"/screening/campaigns/{campaign.id}/kiosk"
    numbers = [s.student_number for s in students]
    screened = client.post(url, data={"student_numbers": "\n".join(numbers)})
    html = screened.get_data(as_text=True)
    assert screened.status_code == 400
    assert f"以下学号的学生已在本次筛查中作答：{numbers[0]}。" in html
    assert numbers[1] not in html.split("flash")[1][:300]  # only the screened one is named
    unknown = client.post(url, data={"student_numbers": f"{numbers[1]}\nNOPE-77\nNOPE-78"})
    html = unknown.get_data(as_text=True)
    assert unknown.status_code == 400 and "NOPE-77, NOPE-78" in html and "请核对学号后重试" in html
    assert db_session.scalar(select(KioskSession)) is None
    # the teacher is still signed in (nothing was handed to a student)
    assert client.get("/screening/").status_code == 200
    opened = client.post(url, data={"student_numbers": f"{numbers[1]}\n{numbers[2]}"})
    assert opened.status_code == 302


def test_kiosk_keeps_answers_it_cannot_record_and_the_queue_goes_on(
    client, db_session, env, audit_entries
) -> None:  # type: ignore[no-untyped-def]
    school, _k, students = school_with_students(db_session, 2)
    campaign = open_campaign(db_session, [school], instruments=("phq9",))
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    login(client, teacher)
    opened = client.post(f"/screening/campaigns/{campaign.id}/kiosk",
                         data={"student_numbers": f"{students[0].student_number}\n{students[1].student_number}"})  # fmt: skip
    kiosk_url = opened.headers["Location"]
    # While the first student answers, a file import records a different PHQ-9 for them.
    record_answers(db_session, None, campaign, students[0], _phq_answers(1))
    first = client.post(kiosk_url, data=_form(20))
    assert first.status_code == 302  # not 409: saved, and the next student's turn
    held = db_session.scalar(select(HeldAnswers))
    assert held.student_id == students[0].id and held.source == "kiosk"
    assert held.data["answers"]["phq9"] == _phq_answers(20)["phq9"] | {"phq9_10": None}
    page = client.get(kiosk_url).get_data(as_text=True)
    assert "(2/2)" in page
    second = client.post(kiosk_url, data=_form(4))
    assert second.status_code == 200 and 'id="kiosk-thanks"' in second.get_data(as_text=True)
    db_session.expire_all()
    kiosk = db_session.scalar(select(KioskSession))
    assert kiosk.closed_at is not None and kiosk.held_ids == [str(students[0].id)]
    assert (
        db_session.scalar(select(Response.source).where(Response.student_id == students[1].id))
        == "kiosk"
    )
    # the psychology teacher sees the held answers on the review page and marks them reviewed
    login(client, teacher)
    review = client.get("/screening/review").get_data(as_text=True)
    assert f'data-held="{held.id}"' in review and students[0].name in review
    assert "total 20" in review or "总分 20" in review
    done = client.post(f"/screening/held/{held.id}/reviewed")
    assert done.status_code == 302
    db_session.expire_all()
    assert db_session.get(HeldAnswers, held.id).reviewed_at is not None
    assert f'data-held="{held.id}"' not in client.get("/screening/review").get_data(as_text=True)


def test_kiosk_sessions_time_out(app, db_session, env) -> None:  # type: ignore[no-untyped-def]
    from wellbeing.auth.services import build_principal

    school, _k, students = school_with_students(db_session, 2)
    campaign = open_campaign(db_session, [school])
    teacher = build_principal(
        db_session, make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    )
    now = utcnow()
    # the default (90 minutes), and a configured timeout through the app's settings
    first, token = open_kiosk(db_session, teacher, campaign, [students[0]], now=now)
    assert first.expires_at == now + dt.timedelta(minutes=90)
    app.extensions["wellbeing.settings"] = env.settings.with_overrides(kiosk_timeout_minutes=10)
    try:
        with app.app_context():
            second, _t = open_kiosk(db_session, teacher, campaign, [students[1]], now=now)
    finally:
        app.extensions["wellbeing.settings"] = env.settings
    assert second.expires_at == now + dt.timedelta(minutes=10)
    # at access: a kiosk used after its deadline is closed then
    assert load_kiosk(db_session, token, now=now + dt.timedelta(minutes=89)) is first
    assert load_kiosk(db_session, token, now=now + dt.timedelta(minutes=91)) is None
    assert first.closed_at == now + dt.timedelta(minutes=91)
    # scheduled: the job closes the others
    assert close_expired(db_session, now + dt.timedelta(minutes=5)) == 0
    assert close_expired(db_session, now + dt.timedelta(minutes=11)) == 1
    assert second.closed_at is not None
    assert [j.id for j in jobs.JOBS] == ["screening.close_kiosks"]


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_the_close_kiosks_job_runs(fresh_env) -> None:  # type: ignore[no-untyped-def]
    from wellbeing.auth.services import build_principal

    with fresh_env.db.session() as session:
        school, _k, students = school_with_students(session, 1)
        campaign = open_campaign(session, [school])
        user = make_user(session, fresh_env.settings, Role.PSYCH_TEACHER, school=school)
        open_kiosk(session, build_principal(session, user), campaign, students, now=utcnow())
    later = utcnow() + dt.timedelta(hours=3)
    assert jobs.close_kiosks(JobContext(fresh_env.db, fresh_env.settings, later)) == 1
    with fresh_env.db.session() as session:
        assert session.scalar(select(KioskSession)).closed_at is not None
