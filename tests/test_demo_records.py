"""The demo's growth records and referrals (``wellbeing.demo_records``): every orange and red
student of the demo district has a plan, notes, guardian contacts and tasks; referrals sit in
several states; a second seed adds nothing; the seeded texts are stored encrypted only; and the
plan, task and referral pages show the seeded data."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import LargeBinary, String, Text, func, select
from sqlalchemy.types import JSON

from wellbeing import create_app
from wellbeing.auth.models import Membership, User
from wellbeing.core import crypto
from wellbeing.core.authz import Role
from wellbeing.crisis.models import GuardianContact
from wellbeing.db import Base
from wellbeing.demo import demo_logins, seed_demo
from wellbeing.demo_records import (
    CONSENTS,
    FEEDBACK,
    GOALS,
    NOTES,
    PARTNERS,
    REASON,
    SEAT_DONE,
    TASKS,
    students_of_concern,
)
from wellbeing.notes.models import CounsellingNote
from wellbeing.plans.models import Plan, PlanSignoff, PlanTask, PlanVersion
from wellbeing.referrals.models import HealthPartner, Referral, ReferralEvent
from wellbeing.screening.clock import local_today

from .conftest import BACKENDS, CsrfClient, Env, build_env, login

pytestmark = pytest.mark.slow

COUNTED = (CounsellingNote, GuardianContact, Plan, PlanVersion, PlanSignoff, PlanTask,
           HealthPartner, Referral, ReferralEvent, Membership, User)  # fmt: skip


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    """The whole demo, seeded once per backend for this module."""
    env = build_env(request.param, tmp_path_factory.mktemp(f"demo-{request.param}"), "records")
    crypto.install_keyring(env.keyring)
    seed_demo(env.db, env.settings)
    yield env
    crypto.install_keyring(None)
    env.db.dispose()


def _counts(env: Env) -> dict[str, int]:
    with env.db.session() as s:
        return {m.__name__: s.scalar(select(func.count()).select_from(m)) or 0 for m in COUNTED}


def test_every_student_of_concern_has_a_record(seeded: Env) -> None:
    with seeded.db.session() as s:
        students = students_of_concern(s)
        ids = {student.id for student in students}
        assert len(students) >= 6 and {st.tier for st in students} == {2, 3}
        plans = {p.student_id: p for p in s.scalars(select(Plan).where(Plan.student_id.in_(ids)))}
        assert set(plans) == ids, "every orange and red student has a plan"
        assert {"active", "review", "submitted", "proposed"} <= {p.state for p in plans.values()}
        assert max(p.latest_version for p in plans.values()) >= 2, "versions to compare"
        signoffs = list(s.scalars(select(PlanSignoff)))
        assert signoffs and {x.role for x in signoffs} == {str(Role.SCHOOL_LEADER)}
        goals = [g for v in s.scalars(select(PlanVersion)) for g in v.body["goals"]]
        assert len({g["achievement"] for g in goals}) >= 4

        noted = set(s.scalars(select(CounsellingNote.student_id)))
        assert ids <= noted, "every orange and red student has notes"
        assert s.scalar(select(func.count()).where(CounsellingNote.restricted.is_(True))) == 1
        contacts = list(s.scalars(select(GuardianContact)))
        assert ids <= {c.student_id for c in contacts}, "every one has guardian contacts"
        assert {c.consent for c in contacts} == {None, "given", "refused", "withdrawn"}
        assert {c.consent_purpose for c in contacts} >= {"referral", "partner_sharing"}

        tasks = list(s.scalars(select(PlanTask).where(PlanTask.kind == "plan_action")))
        class_teachers = set(
            s.scalars(select(Membership.user_id).where(Membership.role == Role.CLASS_TEACHER))
        )
        assert any(t.assignee_id in class_teachers for t in tasks)
        assert any(t.external == "母亲" and t.assignee_id is None for t in tasks)
        today = local_today()
        assert [t for t in tasks if t.state == "open" and t.due_date < today], "one overdue"
        assert any(t.state == "done" and t.done_note == SEAT_DONE for t in tasks)


def test_partners_liaisons_and_referrals(seeded: Env) -> None:
    with seeded.db.session() as s:
        partners = {p.name: p for p in s.scalars(select(HealthPartner))}
        assert set(partners) == {name for _u, name, *_ in PARTNERS}
        for username, name, *_ in PARTNERS:
            user = s.scalars(select(User).where(User.username == username)).one()
            assert [(m.role, m.partner_id) for m in user.memberships] == [
                (str(Role.PARTNER), partners[name].id)
            ]
        referrals = list(s.scalars(select(Referral)))
        states = {r.state for r in referrals}
        assert len(states) >= 4
        assert {"submitted", "sent", "acknowledged", "scheduled", "feedback", "closed",
                "cancelled"} <= states  # fmt: skip
        assert {r.partner_id for r in referrals if r.partner_id} == {
            p.id for p in partners.values()
        }
        assert all(r.consent_contact_id is not None and r.override_at is None for r in referrals)


def test_seeding_again_adds_nothing(seeded: Env) -> None:
    before = _counts(seeded)
    seed_demo(seeded.db, seeded.settings)
    assert _counts(seeded) == before


def _column_text(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, ensure_ascii=False, default=str).encode()


def test_seeded_texts_are_stored_encrypted_only(seeded: Env) -> None:
    """Scan every text, JSON and binary column of every table for the seeded Chinese texts."""
    texts = [NOTES["restricted"][2], GOALS[0][0], TASKS["guardian"], SEAT_DONE, REASON,
             FEEDBACK.summary, CONSENTS["withdrawn"][3]]  # fmt: skip
    found: dict[str, list[str]] = {}
    with seeded.db.session() as s:
        for table in Base.metadata.sorted_tables:
            columns = [
                c for c in table.columns if isinstance(c.type, String | Text | JSON | LargeBinary)
            ]
            if not columns:
                continue
            for row in s.execute(select(*columns)):
                raw = b"\n".join(_column_text(v) for v in row)
                for text in texts:
                    if text.encode() in raw:
                        found.setdefault(text, []).append(table.name)
                # the scan works: a plaintext column (a partner's name) is found by it
                if table.name == "health_partner" and PARTNERS[0][1].encode() in raw:
                    found.setdefault("control", []).append(table.name)
    assert found.pop("control", None), "the scan found no plaintext at all: it does not work"
    assert found == {}, f"seeded text stored in plaintext: {found}"


def _client(env: Env, username: str) -> CsrfClient:
    app = create_app(env.settings, db=env.db)
    app.test_client_class = CsrfClient
    client = app.test_client()
    with env.db.session() as s:
        user = s.scalars(select(User).where(User.username == username)).one()
    login(client, user)
    return client  # type: ignore[return-value]


def test_pages_show_the_seeded_records(seeded: Env) -> None:
    with seeded.db.session() as s:
        reviewed = s.scalars(select(Plan).where(Plan.latest_version >= 2)).first()
        assert reviewed is not None
        school_prefix = next(
            u.username.split(".")[0]
            for u in s.scalars(select(User).join(Membership).where(
                Membership.school_id == reviewed.school_id, Membership.role == Role.PSYCH_TEACHER))
        )  # fmt: skip
        with_feedback = s.scalars(select(Referral).where(Referral.state == "feedback")).one()
        sent_to = s.get_one(HealthPartner, with_feedback.partner_id).name
    liaison = next(u for u, name, *_ in PARTNERS if name == sent_to)

    psych = _client(seeded, f"{school_prefix}.psych")
    page = psych.get(f"/students/{reviewed.student_id}/plan")
    assert page.status_code == 200 and GOALS[0][0] in page.get_data(as_text=True)
    versions = psych.get(f"/students/{reviewed.student_id}/plan/versions")
    assert versions.status_code == 200

    tasks = _client(seeded, f"{school_prefix}.class").get("/tasks")
    assert tasks.status_code == 200 and TASKS["checkin"] in tasks.get_data(as_text=True)

    centre = _client(seeded, "counsellor")
    assert centre.get("/referrals").status_code == 200
    detail = centre.get(f"/referrals/{with_feedback.id}")
    assert detail.status_code == 200 and FEEDBACK.summary in detail.get_data(as_text=True)

    portal = _client(seeded, liaison).get(f"/partner/referrals/{with_feedback.id}")
    assert portal.status_code == 200 and REASON in portal.get_data(as_text=True)
    assert NOTES["first"][2] not in portal.get_data(as_text=True)


def test_logins_name_the_liaisons() -> None:
    logins = {login.username: login for login in demo_logins()}
    for username, name, *_ in PARTNERS:
        assert logins[username].role == Role.PARTNER and logins[username].where == name
