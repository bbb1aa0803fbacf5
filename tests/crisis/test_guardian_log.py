"""The guardian-contact log: consent entries, the derived consent state, the withdrawal event,
the audit entries and the page (issue 14 item 6)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from wellbeing.auth.services import build_principal
from wellbeing.core.audit import AuditAction
from wellbeing.crisis import guardian_log
from wellbeing.crisis.consent import ConsentEntry, current_consent, latest_by_guardian_and_purpose
from wellbeing.crisis.errors import CrisisError
from wellbeing.crisis.events import CONSENT_WITHDRAWN, ConsentWithdrawn
from wellbeing.crisis.forms import CONSENT_LABELS, CONSENT_PURPOSE_LABELS
from wellbeing.crisis.models import CONSENT_PURPOSES, ConsentDecision, GuardianContact
from wellbeing.db import utcnow

from ..conftest import login
from ..factories import make_school, make_student, staff_set

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    student = make_student(db_session, school, name="陈晓")
    principals = {role: build_principal(db_session, u) for role, u in users.items()}
    return {"school": school, "users": users, "p": principals, "student": student}


def _record(db_session, w, minutes, relation="mother", purpose=None, consent=None):  # type: ignore[no-untyped-def]
    return guardian_log.record_guardian_contact(
        db_session, w["p"]["psych_teacher"], w["student"], relation=relation, channel="phone",
        contacted_at=T0 + dt.timedelta(minutes=minutes), summary="谈话内容保密",
        consent_purpose=purpose, consent=consent,
    )  # fmt: skip


# --------------------------------------------------------------------------- derivation

entries = st.lists(
    st.builds(
        ConsentEntry,
        relation=st.sampled_from(["mother", "father"]),
        purpose=st.sampled_from(CONSENT_PURPOSES),
        decision=st.sampled_from([str(d) for d in ConsentDecision]),
        at=st.integers(0, 5).map(lambda m: T0 + dt.timedelta(minutes=m)),
    ),
    max_size=30,
)


@given(entries)
@settings(max_examples=200, deadline=None)
def test_the_latest_entry_per_guardian_and_purpose_wins(log):  # type: ignore[no-untyped-def]
    state = latest_by_guardian_and_purpose(log)
    keys = {(e.relation, e.purpose) for e in log}
    assert set(state) == keys
    for key in keys:
        mine = [(e.at, i) for i, e in enumerate(log) if (e.relation, e.purpose) == key]
        _at, last = max(mine)  # latest time; of equal times, the one recorded last
        assert state[key] is log[last]
    # an entry for one guardian or purpose never changes another's state
    for key, entry in state.items():
        assert (entry.relation, entry.purpose) == key


@given(entries)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_derivation_reads_the_log_in_the_database(db_session, world, log):  # type: ignore[no-untyped-def]
    savepoint = db_session.begin_nested()
    try:
        recorded = [_record(db_session, world, 0, e.relation, e.purpose, e.decision) for e in log]
        for contact, e in zip(recorded, log, strict=True):  # the times of the generated log
            contact.contacted_at = e.at
        db_session.flush()
        expected = latest_by_guardian_and_purpose(log)
        for purpose in CONSENT_PURPOSES:
            found = current_consent(db_session, world["student"].id, purpose)
            want = {r: e.decision for (r, p), e in expected.items() if p == purpose}
            assert {r: e.decision for r, e in found.items()} == want
    finally:
        savepoint.rollback()


def test_current_consent_follows_given_then_withdrawn(db_session, world):
    student = world["student"]
    assert current_consent(db_session, student.id, "referral") == {}
    _record(db_session, world, 0, "mother", "referral", "given")
    _record(db_session, world, 1, "father", "referral", "refused")
    _record(db_session, world, 2, "mother", "screening", "given")
    _record(db_session, world, 3)  # a contact without a consent entry changes nothing
    now = current_consent(db_session, student.id, "referral")
    assert {r: e.decision for r, e in now.items()} == {"mother": "given", "father": "refused"}
    assert now["mother"].given and not now["father"].given
    _record(db_session, world, 4, "mother", "referral", "withdrawn")
    now = current_consent(db_session, student.id, "referral")
    assert now["mother"].decision == "withdrawn"
    assert current_consent(db_session, student.id, "screening")["mother"].given


def test_half_a_consent_entry_is_refused(db_session, world):
    with pytest.raises(CrisisError):
        _record(db_session, world, 0, "mother", "referral", None)
    with pytest.raises(CrisisError):
        _record(db_session, world, 0, "mother", None, "given")
    with pytest.raises(CrisisError):
        _record(db_session, world, 0, "mother", "marketing", "given")


def test_the_database_refuses_unknown_codes(db_session, world):
    contact = _record(db_session, world, 0, "mother", "referral", "given")
    for values in ({"consent": "maybe"}, {"consent_purpose": None}, {"channel": "pigeon"},
                   {"relation": "neighbour"}):  # fmt: skip
        with pytest.raises(IntegrityError), db_session.begin_nested():
            db_session.execute(
                update(GuardianContact).where(GuardianContact.id == contact.id).values(**values)
            )


def test_every_code_has_a_label():
    assert [c for c, _ in CONSENT_PURPOSE_LABELS] == list(CONSENT_PURPOSES)
    assert [c for c, _ in CONSENT_LABELS] == [str(d) for d in ConsentDecision]


# --------------------------------------------------------------------------- event and audit


def test_withdrawal_emits_consent_withdrawn_in_the_transaction(db_session, world, audit_entries):
    seen: list[ConsentWithdrawn] = []

    def handler(session, payload):  # type: ignore[no-untyped-def]
        seen.append(payload)

    CONSENT_WITHDRAWN.subscribe(handler)  # beside the referrals module's own subscriber
    try:
        _record(db_session, world, 0, "mother", "partner_sharing", "given")
        _record(db_session, world, 1, "father", "referral", "refused")
        assert seen == []
        contact = _record(db_session, world, 2, "mother", "partner_sharing", "withdrawn")
    finally:
        CONSENT_WITHDRAWN.unsubscribe(handler)
    (event,) = seen
    assert event == ConsentWithdrawn(
        student_id=world["student"].id, school_id=world["school"].id, relation="mother",
        purpose="partner_sharing", contact_id=contact.id, withdrawn_at=contact.contacted_at,
        recorded_by_id=world["users"]["psych_teacher"].id,
    )  # fmt: skip
    entry = audit_entries(AuditAction.GUARDIAN_CONTACT)[-1]
    assert entry.detail == {
        "relation": "mother", "channel": "phone", "in_crisis": False, "consent": "withdrawn",
        "purpose": "partner_sharing",
    }  # fmt: skip
    assert "谈话内容保密" not in str(entry.detail) and entry.fields == ["summary"]


def test_a_subscriber_that_fails_rolls_the_withdrawal_back(db_session, world):
    def boom(session, payload):  # type: ignore[no-untyped-def]
        raise RuntimeError("subscriber failed")

    CONSENT_WITHDRAWN.subscribe(boom)
    try:
        with pytest.raises(RuntimeError), db_session.begin_nested():
            _record(db_session, world, 0, "mother", "referral", "withdrawn")
    finally:
        CONSENT_WITHDRAWN.unsubscribe(boom)
    assert current_consent(db_session, world["student"].id, "referral") == {}


# --------------------------------------------------------------------------- pages


def test_the_log_page_records_a_consent_entry(client, db_session, world, audit_entries):
    w = world
    url = f"/crisis/students/{w['student'].id}/guardian-contacts"
    login(client, w["users"]["psych_teacher"])
    response = client.post(url, data={
        "relation": "father", "channel": "in_person", "contacted_at": "2026-03-01T09:00",
        "summary": "父亲同意转介", "consent": "given", "consent_purpose": "referral",
    })  # fmt: skip
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert 'id="guardian-consent"' in page and "consent-given" in page and "父亲同意转介" in page
    view = audit_entries(AuditAction.GUARDIAN_CONTACT_VIEW)[-1]
    assert view.student_id == w["student"].id and "consent" in view.fields
    # half an entry: the page again with the message, nothing recorded
    response = client.post(url, data={
        "relation": "father", "channel": "phone", "contacted_at": "2026-03-01T10:00",
        "summary": "x", "consent": "withdrawn",
    })  # fmt: skip
    assert response.status_code == 200 and "Choose what the consent is for" in response.get_data(
        as_text=True
    )
    assert current_consent(db_session, w["student"].id, "referral")["father"].given


@pytest.mark.parametrize(
    ("role", "status"),
    [("psych_teacher", 200), ("school_leader", 200), ("class_teacher", 403), ("counsellor", 403),
     ("partner", 403), ("supervisor", 403), ("admin", 403)],
)  # fmt: skip
def test_who_opens_the_log(client, world, role, status):  # type: ignore[no-untyped-def]
    login(client, world["users"][role])
    url = f"/crisis/students/{world['student'].id}/guardian-contacts"
    assert client.get(url).status_code == status


def test_the_record_links_to_the_log(client, world):
    login(client, world["users"]["psych_teacher"])
    page = client.get(f"/students/{world['student'].id}").get_data(as_text=True)
    assert f"/crisis/students/{world['student'].id}/guardian-contacts" in page


def test_contacts_cannot_be_in_the_future(db_session, world):
    with pytest.raises(CrisisError):
        guardian_log.record_guardian_contact(
            db_session, world["p"]["psych_teacher"], world["student"], relation="mother",
            channel="phone", contacted_at=utcnow() + dt.timedelta(hours=1), summary="x",
            consent_purpose="referral", consent="given",
        )  # fmt: skip
