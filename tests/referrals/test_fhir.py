"""The FHIR R4 download: a Bundle (collection) with a minimal Patient, the ServiceRequest (reason,
priority from the tier), a Task mirroring our state, the Consent, the shared Observations and
QuestionnaireResponses; valid by ``fhir.resources`` (its R4B package: the R4-compatible models,
since the top-level package of version 8 is R5); absolute URLs from the configured base URL;
the minimum dataset only; audited as an export; a download."""

from __future__ import annotations

import json

from fhir.resources.R4B.bundle import Bundle

from wellbeing.core.audit import AuditAction
from wellbeing.referrals.fhir import TASK_STATUS, priority
from wellbeing.referrals.models import ReferralState

from ..conftest import login
from .documents import sharing_world
from .helpers import do


def _download(client, referral):  # type: ignore[no-untyped-def]
    response = client.get(f"/referrals/{referral.id}/fhir")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return json.loads(response.get_data(as_text=True))


def _by_type(bundle):  # type: ignore[no-untyped-def]
    found: dict[str, list] = {}
    for entry in bundle["entry"]:
        found.setdefault(entry["resource"]["resourceType"], []).append(entry)
    return found


def test_the_bundle_is_valid_r4_and_minimal(client, db_session, env, audit_entries):
    world, referral = sharing_world(db_session, env.settings)
    login(client, world.users["sender"])
    bundle = _download(client, referral)
    Bundle.model_validate(bundle)  # raises on anything invalid
    types = _by_type(bundle)
    assert set(types) == {"Patient", "ServiceRequest", "Task", "Consent", "Observation",
                          "QuestionnaireResponse"}  # fmt: skip
    base = env.settings.base_url.rstrip("/")
    for entry in bundle["entry"]:
        assert entry["fullUrl"].startswith(f"{base}/fhir/{entry['resource']['resourceType']}/")
    text = json.dumps(bundle, ensure_ascii=False)
    for reference in _references(bundle):
        assert reference.startswith(base + "/fhir/"), reference
    request = types["ServiceRequest"][0]["resource"]
    assert request["priority"] == "stat"  # red tier
    assert request["reasonCode"][0]["text"].startswith("情绪低落两月")
    task = types["Task"][0]["resource"]
    assert task["status"] == "requested"
    assert task["businessStatus"]["coding"][0]["code"] == "submitted"
    patient = types["Patient"][0]["resource"]
    assert patient["name"][0]["text"] == world.student.name
    assert str(world.student.id) not in text  # no internal student id leaves
    assert "内部备注不外传" not in text and "13800000000" in text
    answers = types["QuestionnaireResponse"][0]["resource"]["item"]
    assert {i["linkId"] for i in answers} >= {"phq9_1", "phq9_9"}
    entry = audit_entries(AuditAction.REFERRAL_EXPORT)[-1]
    assert entry.object_id == str(referral.id) and entry.detail["document"] == "fhir"


def test_an_override_is_never_a_consent_resource(client, db_session, env):
    world, referral = sharing_world(db_session, env.settings, consent=False, answers=False)
    assert referral.override_at is not None
    login(client, world.users["sender"])
    bundle = _download(client, referral)
    Bundle.model_validate(bundle)
    types = _by_type(bundle)
    assert "Consent" not in types and "QuestionnaireResponse" not in types
    notes = " ".join(n["text"] for n in types["ServiceRequest"][0]["resource"]["note"])
    assert "override" in notes


def test_the_task_follows_the_state(client, db_session, env):
    world, referral = sharing_world(db_session, env.settings)
    for move, role in (("accept", "centre"), ("send", "centre"), ("acknowledge", "partner_a")):
        do(db_session, world, referral, move, role)
    login(client, world.users["centre"])
    bundle = _download(client, referral)
    Bundle.model_validate(bundle)
    task = _by_type(bundle)["Task"][0]["resource"]
    assert task["status"] == TASK_STATUS[ReferralState.ACKNOWLEDGED] == "accepted"
    assert _by_type(bundle)["ServiceRequest"][0]["resource"]["performer"][0]["display"] == (
        world.partner_a.name
    )


def test_priority_is_the_higher_of_tier_and_urgency():
    assert priority(3, "routine") == "stat"
    assert priority(0, "urgent") == "urgent"
    assert priority(1, "routine") == "asap"
    assert priority(None, "routine") == "routine"
    assert set(TASK_STATUS) == set(ReferralState)


def _references(node):  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)
