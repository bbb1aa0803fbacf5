"""FHIR R4 export of a scored response: a QuestionnaireResponse, Observations, a Bundle.

Pure functions building plain dicts (JSON-ready); nothing here touches the database.  Scales
with a LOINC code in the instrument's ``metadata.loinc.scales`` are coded with LOINC; the
others with a local code system under ``base_url``.  Answers are coded with the raw option
value as the code and the zh_CN option label as the display.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wellbeing.screening.engine.instruments import Instrument, Scale
from wellbeing.screening.engine.scoring import ScoreResult

DEFAULT_BASE_URL = "https://wellbeing.invalid/fhir"
LOINC = "http://loinc.org"
SURVEY_CATEGORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "survey",
            "display": "Survey",
        }
    ]
}


def canonical_url(instrument: Instrument, base_url: str = DEFAULT_BASE_URL) -> str:
    """Versioned canonical reference of the instrument's Questionnaire (``url|version``)."""
    return f"{base_url}/Questionnaire/{instrument.code}|{instrument.version}"


def _id(*parts: str) -> str:
    """A FHIR resource id: letters, digits, '-' and '.' only (codes use '_')."""
    return "-".join(parts).replace("_", "-")


def _datetime(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("FHIR dateTime needs a timezone-aware datetime")
    return value.isoformat()


def questionnaire_response(
    instrument: Instrument,
    answers: dict[str, int | None],
    result: ScoreResult,
    *,
    student_ref: str,
    authored: datetime,
    response_id: str,
    base_url: str = DEFAULT_BASE_URL,
) -> dict[str, Any]:
    """The answers as a completed QuestionnaireResponse; unanswered items are left out.

    Item texts are included only when the instrument's licence lets them be shown
    (``show_item_texts``).  ``result`` is accepted for a uniform signature with
    ``observations``; the scores themselves travel as Observations.
    """
    items = []
    for item in instrument.items:
        value = answers.get(item.code)
        if value is None:
            continue
        option = item.option(value)
        coding = {"code": str(value), "display": option.label.zh_CN if option else str(value)}
        entry: dict[str, Any] = {"linkId": item.code}
        if instrument.show_item_texts:
            entry["text"] = item.text.zh_CN
        entry["answer"] = [{"valueCoding": coding}]
        items.append(entry)
    return {
        "resourceType": "QuestionnaireResponse",
        "id": response_id,
        "questionnaire": canonical_url(instrument, base_url),
        "status": "completed",
        "subject": {"reference": student_ref},
        "authored": _datetime(authored),
        "item": items,
    }


def _scale_code(instrument: Instrument, scale: Scale, base_url: str) -> dict[str, Any]:
    loinc = instrument.loinc(scale.code)
    if loinc:
        coding = {"system": LOINC, "code": loinc, "display": scale.name.en}
    else:
        system = f"{base_url}/CodeSystem/{instrument.code}-scales"
        coding = {"system": system, "code": scale.code, "display": scale.name.en}
    return {"coding": [coding], "text": scale.name.zh_CN}


def observations(
    instrument: Instrument,
    answers: dict[str, int | None],
    result: ScoreResult,
    *,
    student_ref: str,
    authored: datetime,
    response_id: str,
    base_url: str = DEFAULT_BASE_URL,
    panel: bool = False,
) -> list[dict[str, Any]]:
    """One Observation per scale that has a value (the total and every subscale).

    Integer scales give ``valueInteger``, others a ``valueQuantity`` in ``{score}``;
    ``interpretation`` carries the band label (zh_CN).  A void response is flagged in a
    ``note`` with its reason codes.  With ``panel=True`` and a panel LOINC code in the
    metadata, a panel Observation grouping the others (``hasMember``) comes first.
    """
    when = _datetime(authored)
    derived = [{"reference": f"QuestionnaireResponse/{response_id}"}]
    out: list[dict[str, Any]] = []
    for scale in instrument.scales:
        scored = result.scales.get(scale.code)
        if scored is None or scored.value is None:
            continue
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": _id(response_id, scale.code),
            "status": "final",
            "category": [SURVEY_CATEGORY],
            "code": _scale_code(instrument, scale, base_url),
            "subject": {"reference": student_ref},
            "effectiveDateTime": when,
        }
        if scale.integer:
            obs["valueInteger"] = int(scored.value)
        else:
            obs["valueQuantity"] = {
                "value": scored.value,
                "unit": "{score}",
                "system": "http://unitsofmeasure.org",
                "code": "{score}",
            }
        band = next((b for b in scale.bands if b.code == scored.band), None)
        if band is not None:
            obs["interpretation"] = [{"text": band.label.zh_CN}]
        if result.void:
            obs["note"] = [{"text": "void: " + ", ".join(result.void_reasons)}]
        obs["derivedFrom"] = derived
        out.append(obs)
    panel_code = instrument.loinc()
    if panel and panel_code:
        out.insert(
            0,
            {
                "resourceType": "Observation",
                "id": _id(response_id, "panel"),
                "status": "final",
                "category": [SURVEY_CATEGORY],
                "code": {
                    "coding": [
                        {"system": LOINC, "code": panel_code, "display": instrument.name.en}
                    ],
                    "text": instrument.name.zh_CN,
                },
                "subject": {"reference": student_ref},
                "effectiveDateTime": when,
                "hasMember": [{"reference": f"Observation/{o['id']}"} for o in out],
                "derivedFrom": derived,
            },
        )
    return out


def bundle(
    instrument: Instrument,
    answers: dict[str, int | None],
    result: ScoreResult,
    *,
    student_ref: str,
    authored: datetime,
    response_id: str,
    base_url: str = DEFAULT_BASE_URL,
) -> dict[str, Any]:
    """A ``collection`` Bundle: the QuestionnaireResponse, the panel and scale Observations."""
    kwargs: dict[str, Any] = {
        "student_ref": student_ref,
        "authored": authored,
        "response_id": response_id,
        "base_url": base_url,
    }
    resources = [
        questionnaire_response(instrument, answers, result, **kwargs),
        *observations(instrument, answers, result, panel=True, **kwargs),
    ]
    return {
        "resourceType": "Bundle",
        "id": _id(response_id, "bundle"),
        "type": "collection",
        "timestamp": _datetime(authored),
        "entry": [
            {"fullUrl": f"{base_url}/{r['resourceType']}/{r['id']}", "resource": r}
            for r in resources
        ],
    }
