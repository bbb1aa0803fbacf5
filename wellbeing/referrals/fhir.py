"""The referral as a FHIR R4 Bundle (type ``collection``), for partners who take structured data.

Built from the minimum dataset (:func:`.minimum.dataset`) and the referral's plaintext
metadata (state, dates, urgency) only, so the download can carry nothing a partner may not
see. Resources:

* ``Patient``: name, gender, the guardian the sender chose as ``contact`` (name, phone); its id
  is derived from the referral (no internal student id leaves);
* ``ServiceRequest``: the referral (``reasonCode`` = the reason written for the partner,
  ``priority`` from the tier and the urgency, school and grade and age in ``note``);
* ``Task``: tracks it; ``status`` is the FHIR task status nearest our state
  (:data:`TASK_STATUS`) and ``businessStatus`` is our state itself (code and label);
* ``Consent``: the guardian's consent the referral rests on (absent when an emergency override
  was used: an override is never recorded as consent; the ServiceRequest says so);
* an ``Observation`` per shared scale score (value and band) and a ``QuestionnaireResponse`` per
  shared screening whose item answers the sender chose to share.

Every ``fullUrl`` and reference is absolute under the configured ``base_url``
(``{base}/fhir/<Type>/<id>``). Valid against the R4 models (``fhir.resources.R4B`` in the
tests: its R4-compatible models).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..core.states import state_label
from ..crisis.models import GuardianContact
from .models import URGENCY_LABELS, Referral, ReferralState
from .record import band_name, loinc_of, scale_name

S = ReferralState
TASK_STATUS = {
    S.DRAFT: "draft", S.SUBMITTED: "requested", S.RETURNED: "on-hold", S.ACCEPTED: "received",
    S.SENT: "requested", S.ACKNOWLEDGED: "accepted", S.DECLINED: "rejected",
    S.SCHEDULED: "in-progress", S.ATTENDED: "in-progress", S.MISSED: "on-hold",
    S.FEEDBACK: "completed", S.CLOSED: "completed", S.WITHDRAWN: "cancelled",
    S.CANCELLED: "cancelled",
}  # fmt: skip
REQUEST_STATUS = {S.DRAFT: "draft", S.CLOSED: "completed", S.FEEDBACK: "completed",
                  S.WITHDRAWN: "revoked", S.CANCELLED: "revoked"}  # fmt: skip
GENDER = {"M": "male", "F": "female"}
PRIORITY_BY_TIER = {3: "stat", 2: "urgent", 1: "asap"}
PRIORITY_BY_URGENCY = {"urgent": "urgent", "soon": "asap", "routine": "routine"}
PRIORITY_RANK = ("routine", "urgent", "asap", "stat")  # FHIR's order, lowest first
STATE_SYSTEM = "/fhir/CodeSystem/referral-state"


def priority(tier: int | None, urgency: str) -> str:
    """The higher of the tier's and the urgency's FHIR priority."""
    found = [
        PRIORITY_BY_TIER.get(tier or 0, "routine"),
        PRIORITY_BY_URGENCY.get(urgency, "routine"),
    ]
    return max(found, key=PRIORITY_RANK.index)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment is not None else None


def _ref(base: str, kind: str, rid: str) -> str:
    return f"{base}/fhir/{kind}/{rid}"


def bundle(
    session: Session, referral: Referral, data: dict[str, Any], base_url: str, partner: str | None
) -> dict[str, Any]:
    """The Bundle (a JSON-ready dict) of ``referral`` with its minimum dataset ``data``."""
    base = base_url.rstrip("/")
    key = referral.id
    ids = {name: str(uuid.uuid5(key, name)) for name in ("patient", "task", "consent")}
    patient_url = _ref(base, "Patient", ids["patient"])
    request_url = _ref(base, "ServiceRequest", str(key))
    entries: list[dict[str, Any]] = []

    patient: dict[str, Any] = {
        "resourceType": "Patient", "id": ids["patient"],
        "name": [{"text": data["name"]}], "gender": GENDER.get(data.get("sex") or "", "unknown"),
    }  # fmt: skip
    guardian = data.get("guardian")
    if guardian:
        patient["contact"] = [{
            "relationship": [{"text": _("Guardian")}], "name": {"text": guardian["name"]},
            "telecom": [{"system": "phone", "value": guardian["phone"]}] if guardian["phone"] else [],
        }]  # fmt: skip
    entries.append({"fullUrl": patient_url, "resource": patient})

    notes = [_("School: %(school)s; grade: %(grade)s; age: %(age)s; urgency: %(urgency)s.",
               school=data["school"], grade=data.get("grade") or "", age=data.get("age") or "",
               urgency=URGENCY_LABELS.get(data["urgency"], data["urgency"]))]  # fmt: skip
    if referral.override_at is not None:
        notes.append(_("Referred in an emergency without guardian consent (override)."))
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest", "id": str(key),
        "status": REQUEST_STATUS.get(S(referral.state), "active"), "intent": "order",
        "priority": priority(data.get("tier"), data["urgency"]),
        "code": {"text": _("Referral to a health partner")},
        "subject": {"reference": patient_url},
        "reasonCode": [{"text": data["reason"] or ""}],
        "requester": {"display": data["school"]},
        "note": [{"text": text} for text in notes],
    }  # fmt: skip
    if referral.submitted_at is not None:
        request["authoredOn"] = _iso(referral.submitted_at)
    if partner:
        request["performer"] = [{"display": partner}]
    observations = _observations(base, key, data, patient_url, entries)
    if observations:
        request["supportingInfo"] = [{"reference": url} for url in observations]
    entries.insert(1, {"fullUrl": request_url, "resource": request})

    state = S(referral.state)
    task: dict[str, Any] = {
        "resourceType": "Task", "id": ids["task"], "status": TASK_STATUS[state],
        "businessStatus": {
            "coding": [{"system": base + STATE_SYSTEM, "code": str(state),
                        "display": str(state_label(state))}],
            "text": str(state_label(state)),
        },
        "intent": "order", "focus": {"reference": request_url}, "for": {"reference": patient_url},
    }  # fmt: skip
    if referral.submitted_at is not None:
        task["authoredOn"] = _iso(referral.submitted_at)
    entries.insert(2, {"fullUrl": _ref(base, "Task", ids["task"]), "resource": task})

    contact = (session.get(GuardianContact, referral.consent_contact_id)
               if referral.consent_contact_id else None)  # fmt: skip
    if contact is not None:
        entries.append({"fullUrl": _ref(base, "Consent", ids["consent"]), "resource": {
            "resourceType": "Consent", "id": ids["consent"],
            "status": "inactive" if state == S.CANCELLED else "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                  "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}],
                          "text": _("Guardian's consent to the referral")}],
            "patient": {"reference": patient_url}, "dateTime": _iso(contact.contacted_at),
            "policyRule": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
            "provision": {"type": "permit", "data": [{"meaning": "related",
                                                      "reference": {"reference": request_url}}]},
        }})  # fmt: skip
    return {"resourceType": "Bundle", "id": str(uuid.uuid5(key, "bundle")), "type": "collection",
            "timestamp": _iso(dt.datetime.now(dt.UTC)), "entry": entries}  # fmt: skip


def _observations(
    base: str, key: uuid.UUID, data: dict[str, Any], patient_url: str,
    entries: list[dict[str, Any]],
) -> list[str]:  # fmt: skip
    """Append an Observation per shared scale and a QuestionnaireResponse per screening with
    shared answers to ``entries``; returns the Observations' URLs."""
    urls = []
    for n, result in enumerate(data.get("screening") or []):
        when = f"{result['date']}"
        for code, score in sorted((result.get("scores") or {}).items()):
            oid = str(uuid.uuid5(key, f"obs:{n}:{code}"))
            observation: dict[str, Any] = {
                "resourceType": "Observation", "id": oid, "status": "final",
                "category": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                    "code": "survey"}]}],
                "code": {"coding": _codings(base, result["instrument"], code),
                         "text": scale_name(result["instrument"], code)},
                "subject": {"reference": patient_url}, "effectiveDateTime": when,
            }  # fmt: skip
            if score.get("value") is not None:
                observation["valueQuantity"] = {"value": score["value"]}
            if score.get("band"):
                observation["interpretation"] = [
                    {"text": band_name(result["instrument"], code, score["band"])}
                ]
            url = _ref(base, "Observation", oid)
            urls.append(url)
            entries.append({"fullUrl": url, "resource": observation})
        answers = result.get("answers")
        if answers:
            qid = str(uuid.uuid5(key, f"qr:{n}"))
            entries.append({"fullUrl": _ref(base, "QuestionnaireResponse", qid), "resource": {
                "resourceType": "QuestionnaireResponse", "id": qid, "status": "completed",
                "questionnaire": f"{base}/fhir/Questionnaire/{result['instrument']}",
                "subject": {"reference": patient_url}, "authored": when,
                "item": [{"linkId": str(item), "answer": [_answer(value)]}
                         for item, value in sorted(answers.items())],
            }})  # fmt: skip
    return urls


def _codings(base: str, instrument: str, scale: str) -> list[dict[str, str]]:
    """Our own code of the scale, and its LOINC code when the instrument file gives one."""
    codings = [{"system": base + "/fhir/CodeSystem/scale", "code": f"{instrument}.{scale}"}]
    loinc = loinc_of(instrument, scale)
    if loinc:
        codings.insert(0, {"system": "http://loinc.org", "code": loinc})
    return codings


def _answer(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    return {"valueString": str(value)}
