"""The supervisor's console: filters, keyset paging, who-accessed view, queues, CSV export and
the integrity panel."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import pytest
from sqlalchemy import select, text

from wellbeing.audit import queries
from wellbeing.audit.models import AuditVerification
from wellbeing.core import audit
from wellbeing.core.audit import Actor, AuditAction, Outcome

from ..authz import build_world
from ..conftest import login
from . import tamper

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    return build_world(db_session, env.settings)


def _entry(session, marker: str, *, when: dt.datetime, user=None, student_id=None, school_id=None,  # type: ignore[no-untyped-def]
           action=AuditAction.STUDENT_VIEW, outcome=Outcome.ALLOWED, user_agent=None, break_glass_id=None):  # fmt: skip
    actor = Actor(
        user_id=user.id if user else None, username=user.username if user else "system",
        role="counsellor" if user else "system", user_agent=user_agent, break_glass_id=break_glass_id,
    )  # fmt: skip
    entry = audit.record(
        session, action, object_type="student", object_id=marker, student_id=student_id,
        school_id=school_id, outcome=outcome, actor=actor,
    )  # fmt: skip
    entry.occurred_at = when
    return entry


@pytest.fixture
def sample(db_session, world):  # type: ignore[no-untyped-def]
    """A small trail with one distinguishing entry per filter."""
    u1, u2 = world.users["psych_teacher"], world.users["counsellor"]
    s1, s2 = world.own_student, world.other_student
    day = dt.datetime(2026, 5, 11, 2, 0, tzinfo=dt.UTC)  # 10:00 Shanghai
    grant = uuid.uuid4()
    rows = {
        "m-base": dict(when=day, user=u1, student_id=s1.id, school_id=world.own_school.id),
        "m-user2": dict(when=day + dt.timedelta(minutes=1), user=u2, student_id=s1.id, school_id=world.own_school.id),
        "m-other": dict(when=day + dt.timedelta(minutes=2), user=u1, student_id=s2.id, school_id=world.other_school.id),
        "m-denied": dict(when=day + dt.timedelta(minutes=3), user=u2, student_id=s2.id, school_id=world.other_school.id,
                         outcome=Outcome.DENIED, action=AuditAction.ACCESS_DENIED),
        "m-export": dict(when=day + dt.timedelta(days=1), user=u1, school_id=world.own_school.id,
                         action=AuditAction.RECORD_EXPORT),
        "m-late": dict(when=dt.datetime(2026, 5, 11, 21, 30, tzinfo=SHANGHAI), user=u2, student_id=s1.id,
                       school_id=world.own_school.id, break_glass_id=grant),
        "m-early": dict(when=dt.datetime(2026, 5, 12, 6, 59, tzinfo=SHANGHAI), user=u1, student_id=s1.id,
                        school_id=world.own_school.id),
        "m-seven": dict(when=dt.datetime(2026, 5, 12, 7, 0, tzinfo=SHANGHAI), user=u1, student_id=s1.id,
                        school_id=world.own_school.id),
        "m-twenty": dict(when=dt.datetime(2026, 5, 12, 20, 0, tzinfo=SHANGHAI), user=u1, student_id=s1.id,
                         school_id=world.own_school.id),
        "m-night-system": dict(when=dt.datetime(2026, 5, 12, 3, 0, tzinfo=SHANGHAI), student_id=s1.id),
        "m-formula": dict(when=day - dt.timedelta(days=30), user=u1, user_agent="=HYPERLINK(1)"),
    }  # fmt: skip
    for marker, kwargs in rows.items():
        _entry(db_session, marker, **kwargs)
    db_session.flush()
    return {"world": world, "grant": grant, "u1": u1, "u2": u2, "s1": s1, "s2": s2}


def _markers(session, f: queries.EntryFilter) -> set[str]:  # type: ignore[no-untyped-def]
    return {
        e.object_id
        for e in queries.search(session, f, limit=1000).entries
        if e.object_id.startswith("m-")
    }


def test_filters(db_session, sample):
    w, s1, s2 = sample["world"], sample["s1"], sample["s2"]
    F = queries.EntryFilter
    assert _markers(db_session, F(student_id=s2.id)) == {"m-other", "m-denied"}
    assert _markers(db_session, F(user_id=sample["u2"].id)) == {"m-user2", "m-denied", "m-late"}
    assert _markers(db_session, F(school_id=w.other_school.id)) == {"m-other", "m-denied"}
    assert _markers(db_session, F(action=str(AuditAction.RECORD_EXPORT))) == {"m-export"}
    assert _markers(db_session, F(outcome="denied")) == {"m-denied"}
    since = dt.datetime(2026, 5, 11, 2, 1, tzinfo=dt.UTC)
    until = dt.datetime(2026, 5, 11, 2, 3, tzinfo=dt.UTC)
    assert _markers(db_session, F(since=since, until=until)) == {"m-user2", "m-other"}
    assert _markers(db_session, F(break_glass_only=True)) == {"m-late"}
    assert _markers(db_session, F(break_glass_id=sample["grant"])) == {"m-late"}
    assert _markers(db_session, F(student_id=s1.id, user_id=sample["u2"].id)) == {
        "m-user2",
        "m-late",
    }


def test_queues(db_session, sample):
    tz = sample["world"].settings.tz
    assert _markers(db_session, queries.queue_filter("denied", tz)) == {"m-denied"}
    assert _markers(db_session, queries.queue_filter("exports", tz)) == {"m-export"}
    # Outside [07:00, 20:00) Shanghai time, by a person, on a student's data.
    assert _markers(db_session, queries.queue_filter("after-hours", tz)) == {
        "m-late",
        "m-early",
        "m-twenty",
    }


def test_search_page_maps_the_form_to_filters(client, sample, db_session, audit_entries):
    w = sample["world"]
    login(client, w.users["supervisor"])
    body = client.get(f"/audit/?student={sample['s2'].id}&outcome=denied").get_data(as_text=True)
    assert "m-denied" in body and "m-other" not in body
    body = client.get(
        f"/audit/?user={sample['u2'].username}&since=2026-05-11&until=2026-05-11"
    ).get_data(as_text=True)
    assert "m-user2" in body and "m-late" in body and "m-denied" in body and "m-base" not in body
    body = client.get(f"/audit/?school={w.other_school.id}&action=access:route:denied").get_data(
        as_text=True
    )
    assert "m-denied" in body and "m-other" not in body
    assert "m-late" in client.get("/audit/?break_glass=y").get_data(as_text=True)
    assert client.get("/audit/?student=not-a-uuid").status_code == 200
    searched = audit_entries(AuditAction.AUDIT_SEARCH)[-1]
    assert searched.actor_user_id == w.users["supervisor"].id
    assert "m-late" in client.get("/audit/queues/after-hours").get_data(as_text=True)
    assert "m-export" in client.get("/audit/queues/exports").get_data(as_text=True)
    assert "m-denied" in client.get("/audit/queues/denied").get_data(as_text=True)


def test_keyset_pages_walk_everything_once(client, db_session, world):
    student = world.own_student
    base = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
    for i in range(130):  # many share a timestamp: ties are broken by id
        _entry(
            db_session,
            f"p-{i:03d}",
            when=base + dt.timedelta(seconds=i // 7),
            student_id=student.id,
        )
    db_session.flush()
    f = queries.EntryFilter(student_id=student.id)
    seen, cursor = [], None
    while True:
        page = queries.search(db_session, f, queries.Cursor.decode(cursor), limit=20)
        seen += [e.object_id for e in page.entries]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(seen) == 130 and len(set(seen)) == 130
    assert seen == sorted(seen, reverse=True)
    # The same through the pages' "older entries" links.
    login(client, world.users["supervisor"])
    url, pages = f"/audit/students/{student.id}", 0
    while url:
        body = client.get(url).get_data(as_text=True)
        pages += 1
        marker = 'data-testid="next-page"'
        url = (
            body.split(marker)[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
            if marker in body
            else None
        )
    assert pages == 3


def test_who_accessed_this_record(client, sample, audit_entries):
    login(client, sample["world"].users["supervisor"])
    response = client.get(f"/audit/students/{sample['s1'].id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert sample["u1"].username in body and sample["u2"].username in body
    entry = audit_entries(AuditAction.AUDIT_STUDENT_VIEW)[-1]
    assert entry.student_id == sample["s1"].id
    accessors = {a.username: a for a in queries.accessors(sample["world"].session, sample["s1"].id)}
    assert accessors[sample["u2"].username].break_glass_entries == 1


def test_csv_export_streams_the_selection_and_is_audited(client, sample, audit_entries):
    login(client, sample["world"].users["supervisor"])
    response = client.get(f"/audit/export.csv?user={sample['u1'].username}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    text_ = response.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text_)))
    markers = {r["object_id"] for r in rows}
    assert {"m-base", "m-other", "m-export", "m-formula"} <= markers and "m-user2" not in markers
    formula = next(r for r in rows if r["object_id"] == "m-formula")
    assert formula["user_agent"] == "'=HYPERLINK(1)"
    export = audit_entries(AuditAction.AUDIT_EXPORT)[-1]
    assert export.detail["user_id"] == str(sample["u1"].id) and export.purpose == "audit_export"
    queue = client.get("/audit/export.csv?queue=denied")
    assert {
        r["object_id"]
        for r in csv.DictReader(io.StringIO(queue.get_data(as_text=True).lstrip("\ufeff")))
    } == {"m-denied"}


def test_integrity_panel_and_verify_now(client, world, db_session, env):
    login(client, world.users["supervisor"])
    assert client.get("/audit/integrity").status_code == 200
    response = client.post("/audit/integrity/verify")
    assert response.status_code == 302
    last = db_session.scalars(
        select(AuditVerification).order_by(AuditVerification.created_at.desc())
    ).first()
    assert last.ok and last.unsealed == 0
    panel = client.get("/audit/integrity").get_data(as_text=True)
    assert 'data-testid="last-verification"' in panel
    # Tamper with a sealed entry behind the app's back: the next verification says so.
    conn = db_session.connection()
    tamper.bypass_append_only(conn)
    seq = conn.execute(text("SELECT MAX(seq) FROM audit_entry")).scalar()
    tamper.edit(conn, seq, "ip")
    client.post("/audit/integrity/verify")
    db_session.expire_all()
    last = db_session.scalars(
        select(AuditVerification).order_by(AuditVerification.created_at.desc())
    ).first()
    assert not last.ok and last.first_bad_seq == seq
    assert "TAMPERED" in client.get("/audit/integrity").get_data(as_text=True)


def test_index_covers_every_filter():
    from wellbeing.audit.models import AuditEntry

    indexed = {tuple(c.name for c in ix.columns) for ix in AuditEntry.__table__.indexes}
    for column in (
        "student_id",
        "actor_user_id",
        "school_id",
        "action",
        "outcome",
        "break_glass_id",
    ):
        assert (column, "occurred_at", "id") in indexed
    assert ("occurred_at", "id") in indexed
