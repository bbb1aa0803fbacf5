"""No audit entry carries a value of an encrypted field: write canary values through the app,
open every page that shows them, then scan every column of every entry."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from wellbeing.audit.models import AuditEntry, BreakGlass
from wellbeing.core import audit
from wellbeing.core.audit import AuditAction
from wellbeing.orgs.models import SchoolClass

from ..authz import build_world
from ..conftest import login
from ..factories import PASSWORD, make_student
from .test_sensitive_routes import BUILDERS, sensitive_endpoints, visit_and_check

CANARY_NAME = "金丝雀测试生"
CANARY_NATIONAL_ID = "110105201205019937"
CANARY_PHONE = "13912345678"
CANARY_REASON = "Canary reason: 金丝雀 emergency access needed now"
CANARY_COMMENT = "Canary review comment 金丝雀审阅"
CANARIES = (CANARY_NAME, CANARY_NATIONAL_ID, CANARY_PHONE, "金丝雀")


def _scan(session) -> list[str]:  # type: ignore[no-untyped-def]
    leaks = []
    for entry in session.scalars(select(AuditEntry)):
        row = {c.name: getattr(entry, c.key) for c in AuditEntry.__table__.columns}
        text = json.dumps(row, default=str, ensure_ascii=False)
        leaks += [
            f"entry {entry.id} ({entry.action}) contains {c!r}" for c in CANARIES if c in text
        ]
    return leaks


def test_no_entry_carries_an_encrypted_value(app, client, db_session, env):
    world = build_world(db_session, env.settings)
    canary = make_student(
        db_session, world.own_school, db_session.get(SchoolClass, world.own_student.class_id),
        name=CANARY_NAME, national_id=CANARY_NATIONAL_ID,
        guardians=[{"name": "金丝雀家长", "phone": CANARY_PHONE, "relation": "mother"}],
    )  # fmt: skip
    world.own_student = canary
    db_session.flush()

    # Every sensitive page with a builder, about the canary student.
    for endpoint in sorted(set(sensitive_endpoints(app)) & set(BUILDERS)):
        visit_and_check(client, db_session, world, endpoint)

    # Break-glass with a canary reason (on a canary student the counsellor has no access to:
    # the pages above may have escalated the first one), then the supervisor's console.
    canary = make_student(
        db_session, world.other_school, name=CANARY_NAME, national_id=CANARY_NATIONAL_ID
    )
    db_session.flush()
    login(client, world.users["counsellor"])
    started = client.post(
        f"/break-glass/{canary.id}", data={"reason": CANARY_REASON, "password": PASSWORD}
    )
    assert started.status_code == 302 and "/students/" in started.headers["Location"]
    client.get(f"/students/{canary.id}")
    grant = db_session.scalars(select(BreakGlass).where(BreakGlass.student_id == canary.id)).one()
    login(client, world.users["supervisor"])
    for url in (
        f"/audit/?student={canary.id}", f"/audit/students/{canary.id}", "/audit/break-glass",
        f"/audit/break-glass/{grant.id}", "/audit/queues/after-hours", "/audit/queues/denied",
    ):  # fmt: skip
        assert client.get(url).status_code == 200
    client.post(f"/audit/break-glass/{grant.id}", data={"comment": CANARY_COMMENT})
    export = client.get(f"/audit/export.csv?student={canary.id}").get_data(as_text=True)
    assert str(canary.id) in export
    assert not [c for c in CANARIES if c in export]
    # The console shows ids, never the name (the review page shows only the reason).
    assert CANARY_NAME not in client.get(f"/audit/students/{canary.id}").get_data(as_text=True)

    db_session.expire_all()
    assert db_session.scalars(select(AuditEntry).where(AuditEntry.student_id == canary.id)).first()
    assert _scan(db_session) == []


@pytest.mark.parametrize("value", [CANARY_NAME, CANARY_REASON, "line one\nline two", "x" * 81])
def test_the_detail_guard_refuses_free_text(db_session, value):
    with pytest.raises(ValueError, match="free text"):
        audit.record(db_session, AuditAction.STUDENT_VIEW, detail={"note": value})
    with pytest.raises(ValueError, match="free text"):
        audit.record(db_session, AuditAction.STUDENT_VIEW, purpose=value)
