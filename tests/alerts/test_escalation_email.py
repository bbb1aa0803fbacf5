"""Emails of one escalation scan run are per person: one alert → that alert's email (as
before), several → ONE digest (a count and a link to the alerts inbox, no names, no scores, in
the person's language) which every email recipient row of those alerts points at."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from wellbeing.alerts import bulk, services
from wellbeing.alerts.models import Alert, AlertRecipient
from wellbeing.audit.events import BREAK_GLASS_STARTED, BreakGlassStarted
from wellbeing.audit.models import BreakGlass
from wellbeing.auth.admin import grant_membership
from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Role
from wellbeing.notify.models import OutboxMessage

from ..factories import make_class, make_school, make_student, make_user

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
NAMES = ["王小明", "李静", "张伟", "刘洋"]


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def w(db_session, env):
    big, small = make_school(db_session), make_school(db_session)
    people = {
        "psych": make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=big),
        "leader": make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=big),
        "psych_small": make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=small),
        "leader_small": make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=small),
        "c_duty": make_user(db_session, env.settings, Role.COUNSELLOR),
        "c_off": make_user(db_session, env.settings, Role.COUNSELLOR),
        "sup1": make_user(db_session, env.settings, Role.SUPERVISOR),
        "sup2": make_user(db_session, env.settings, Role.SUPERVISOR),
    }
    for key, user in people.items():
        user.email, user.locale = f"{key}@district.example", "en"
    people["c_duty"].on_duty = True
    people["c_duty"].locale = "zh_CN"
    klass = make_class(db_session, big)
    students = [make_student(db_session, big, klass, name=n) for n in NAMES[:3]]
    students.append(make_student(db_session, small, name=NAMES[3]))
    alerts = [
        services.raise_alert(
            db_session,
            kind="red_tier",
            school_id=s.school_id,
            student_id=s.id,
            source_id=uuid.uuid4(),
            tier=3,
            now=T0,
        )
        for s in students
    ]
    db_session.flush()
    return {**people, "students": students, "alerts": alerts}


def mails_since(db_session, seen):
    """Alert emails queued since ``seen`` (a set of outbox ids), by user."""
    out = {}
    for mail in db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert")):
        if mail.id not in seen:
            assert mail.user_id not in out, "two emails for one person in one run"
            out[mail.user_id] = mail
    return out


def scan(db_session, minutes):
    seen = set(db_session.scalars(select(OutboxMessage.id)))
    services.escalation_scan(db_session, at(minutes))
    return mails_since(db_session, seen)


def email_rows(db_session, user):
    return db_session.scalars(
        select(AlertRecipient).where(
            AlertRecipient.user_id == user.id, AlertRecipient.channel == "email"
        )
    ).all()


def break_glass(db_session, breaker, student):
    grant = BreakGlass(
        user_id=breaker.id, student_id=student.id, expires_at=at(60), reason="Review"
    )
    db_session.add(grant)
    db_session.flush()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("wellbeing.alerts.services.utcnow", lambda: T0)
        BREAK_GLASS_STARTED.emit(db_session, BreakGlassStarted.of(grant))


def assert_nameless(mails):
    for mail in mails:
        assert not any(n in mail.subject + mail.body for n in NAMES)
        assert "PHQ" not in mail.body and "score" not in mail.body.lower()


def test_several_alerts_make_one_digest_and_one_alert_its_own_email(db_session, w):
    mails = scan(db_session, 61)  # every alert climbs to its school leader
    assert set(mails) == {w["leader"].id, w["leader_small"].id}
    digest, single = mails[w["leader"].id], mails[w["leader_small"].id]
    assert digest.subject == "3 students need attention"
    assert digest.body.startswith("3 students at your school need attention. Your alerts: http")
    assert digest.body.endswith("/alerts")
    small_alert = w["alerts"][3]
    assert single.subject == "A student needs attention"
    expected = services.email_text(small_alert, "school_leader", "en")
    assert (single.subject, single.body) == expected
    assert_nameless(mails.values())
    rows = email_rows(db_session, w["leader"])
    assert len(rows) == 3 and {r.outbox_id for r in rows} == {digest.id}
    assert {r.alert_id for r in rows} == {a.id for a in w["alerts"][:3]}
    [row] = email_rows(db_session, w["leader_small"])
    assert row.outbox_id == single.id


def test_the_counsellor_digest_uses_the_district_wording_in_their_language(db_session, w):
    scan(db_session, 61)
    mails = scan(db_session, 121)  # all four reach the counsellor on duty
    assert set(mails) == {w["c_duty"].id}
    mail = mails[w["c_duty"].id]
    assert "本区学校有 4 名学生需要关注" in mail.body and mail.body.endswith("/alerts")
    assert "4" in mail.subject
    assert_nameless([mail])
    assert {r.outbox_id for r in email_rows(db_session, w["c_duty"])} == {mail.id}


def test_reminders_are_one_digest_per_person(db_session, w):
    scan(db_session, 125)  # leaders, then the counsellor on duty (catch-up)
    mails = scan(db_session, 190)  # past the top: widen to every counsellor, remind everyone
    everyone = ("psych", "leader", "psych_small", "leader_small", "c_duty", "c_off")
    assert set(mails) == {w[k].id for k in everyone}
    assert mails[w["psych"].id].subject == "3 students need attention"
    assert mails[w["c_off"].id].body.startswith("4 students at schools of your district")
    assert mails[w["leader_small"].id].body.endswith(f"/alerts/{w['alerts'][3].id}")
    assert_nameless(mails.values())
    reminded = db_session.scalars(
        select(AlertRecipient).where(
            AlertRecipient.channel == "email", AlertRecipient.notified_at == at(190)
        )
    ).all()
    assert len(reminded) == 3 * 2 + 1 * 2 + 4 * 2  # each school's psych + leader, counsellors
    by_user = {}
    for row in reminded:
        by_user.setdefault(row.user_id, set()).add(row.outbox_id)
    assert by_user == {user_id: {mail.id} for user_id, mail in mails.items()}


def test_break_glass_reminders_make_a_break_glass_digest(db_session, w):
    for student in w["students"][:2]:
        break_glass(db_session, w["sup1"], student)
    glass = db_session.scalars(select(Alert).where(Alert.kind == "break_glass")).all()
    for alert, leader in zip(w["alerts"], ["leader"] * 3 + ["leader_small"], strict=True):
        services.acknowledge(db_session, build_principal(db_session, w[leader]), alert.id)
    mails = scan(db_session, 3 * 24 * 60)
    assert set(mails) == {w["sup2"].id}  # never the person who broke the glass
    mail = mails[w["sup2"].id]
    assert mail.subject == "2 break-glass accesses need review"
    assert mail.body.endswith("/alerts") and "Review" not in mail.body
    assert {r.alert_id for r in email_rows(db_session, w["sup2"]) if r.outbox_id == mail.id} == {
        a.id for a in glass
    }


def test_one_person_with_break_glass_and_student_alerts_gets_a_mixed_digest(db_session, env, w):
    grant_membership(db_session, None, w["c_off"], Role.SUPERVISOR)
    break_glass(db_session, w["sup1"], w["students"][0])
    scan(db_session, 125)
    mails = scan(db_session, 24 * 60 + 1)  # red reminders and the break-glass reminder
    mail = mails[w["c_off"].id]
    assert mail.subject == "5 alerts need attention"
    assert mail.body.startswith("5 alerts need your attention. Your alerts: http")


@pytest.mark.parametrize(
    ("variant", "count", "subject", "body"),
    [
        ("break_glass", 1, "1 break-glass access needs review", "1 break-glass access to a student record needs review."),
        ("break_glass", 2, "2 break-glass accesses need review", "2 break-glass accesses to student records need review."),
        ("mixed", 1, "1 alert needs attention", "1 alert needs your attention."),
        ("mixed", 7, "7 alerts need attention", "7 alerts need your attention."),
        ("students", 2, "2 students need attention", "2 students at your school need attention."),
    ],
)  # fmt: skip
def test_digest_variants(variant, count, subject, body):
    got_subject, got_body = bulk.digest_text("en", count, variant=variant)
    assert got_subject == subject and got_body.startswith(body) and got_body.endswith("/alerts")
    zh_subject, zh_body = bulk.digest_text("zh_CN", count, variant=variant)
    assert str(count) in zh_subject and zh_subject != got_subject
    assert zh_body.endswith("/alerts") and zh_body != got_body
