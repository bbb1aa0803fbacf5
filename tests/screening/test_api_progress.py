"""GET /api/v1/campaigns/<id>/progress: counts per school and grade (eligible, screened,
missing, voided, bands, tiers, critical) for the schools the caller may read; no names, no
student ids."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.screening.models import Response
from wellbeing.screening.services import record_answers

from ..api.helpers import bearer, schema_errors
from ..factories import make_class, make_school, make_student, make_user
from .helpers import open_campaign, phq

ZERO_TIERS = {"green": 0, "yellow": 0, "orange": 0, "red": 0}


def _screen(session, campaign, student, total: int, item9: int = 0) -> None:  # type: ignore[no-untyped-def]
    answers = {f"phq9_{n}": v for n, v in enumerate(phq(total, item9), start=1)}
    record_answers(session, None, campaign, student, {"phq9": answers})


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    a, b = make_school(db_session), make_school(db_session)
    seventh, eighth = make_class(db_session, a, grade=7), make_class(db_session, a, grade=8)
    s = [make_student(db_session, a, seventh) for _ in range(3)]
    s += [make_student(db_session, a, eighth) for _ in range(2)]
    theirs = make_student(db_session, b, make_class(db_session, b, grade=7))
    campaign = open_campaign(db_session, [a, b], instruments=("phq9",))
    _screen(db_session, campaign, s[0], 0)  # minimal, green
    _screen(db_session, campaign, s[1], 12)  # moderate, yellow
    _screen(db_session, campaign, s[3], 0, item9=1)  # critical item: red
    _screen(db_session, campaign, theirs, 0)
    # A validity scale voids a response (no built-in instrument has one: set the flag as the
    # intake stores it).
    db_session.scalar(select(Response).where(Response.student_id == theirs.id)).voided = True
    db_session.flush()
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=a)
    return {"a": a, "b": b, "students": [*s, theirs], "campaign": campaign,
            "teacher": bearer(db_session, teacher, "screening:read")}  # fmt: skip


def _rows(client, campaign, headers) -> dict:  # type: ignore[no-untyped-def, type-arg]
    response = client.get(f"/api/v1/campaigns/{campaign.id}/progress", headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert schema_errors("CampaignProgress", body) == []
    assert body["campaign_id"] == str(campaign.id) and body["instruments"] == ["phq9"]
    return {(r["school_code"], r["grade"]): r for r in body["rows"]}


def test_counts_for_the_teachers_school_only(client, world):  # type: ignore[no-untyped-def]
    rows = _rows(client, world["campaign"], world["teacher"])
    code = world["a"].code
    assert set(rows) == {(code, 7), (code, 8)}
    seventh, eighth = rows[(code, 7)], rows[(code, 8)]
    assert {k: seventh[k] for k in ("eligible", "screened", "missing", "voided", "critical")} == {
        "eligible": 3, "screened": 2, "missing": 1, "voided": 0, "critical": 0,
    }  # fmt: skip
    assert seventh["bands"] == {"phq9": {"minimal": 1, "moderate": 1}}
    assert seventh["tiers"] == ZERO_TIERS | {"green": 1, "yellow": 1}
    assert (eighth["eligible"], eighth["screened"], eighth["missing"], eighth["critical"]) == (
        2,
        1,
        1,
        1,
    )
    assert eighth["tiers"] == ZERO_TIERS | {"red": 1}


def test_counsellor_sees_every_school_and_voided_responses_count_apart(
    client, db_session, env, world
):  # type: ignore[no-untyped-def]
    counsellor = make_user(db_session, env.settings, Role.COUNSELLOR)
    rows = _rows(client, world["campaign"], bearer(db_session, counsellor, "screening:read"))
    assert set(rows) == {(world["a"].code, 7), (world["a"].code, 8), (world["b"].code, 7)}
    theirs = rows[(world["b"].code, 7)]
    assert (theirs["eligible"], theirs["screened"], theirs["voided"]) == (1, 1, 1)
    assert theirs["bands"] == {} and theirs["tiers"] == ZERO_TIERS  # voided: not in results


def test_counts_only(client, world):  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/campaigns/{world['campaign'].id}/progress",
                          headers=world["teacher"])  # fmt: skip
    text = response.get_data(as_text=True)
    for student in world["students"]:
        assert str(student.id) not in text and student.name not in text
        assert student.student_number not in text
    assert world["campaign"].name not in text


def test_unknown_and_other_schools_campaign(client, db_session, world, audit_entries):  # type: ignore[no-untyped-def]
    unknown = client.get(f"/api/v1/campaigns/{uuid.uuid4()}/progress", headers=world["teacher"])
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "not_found"
    theirs = open_campaign(db_session, [world["b"]], instruments=("phq9",))
    refused = client.get(f"/api/v1/campaigns/{theirs.id}/progress", headers=world["teacher"])
    assert refused.status_code == 404 and refused.get_json() == unknown.get_json()  # no oracle
    [denied] = audit_entries(AuditAction.ACCESS_DENIED)
    assert denied.object_id == str(theirs.id) and denied.outcome == "denied"
