"""The OpenAPI description of :mod:`.api` (paths and schemas); the request schemas here are the
ones the endpoints validate bodies against, so the document and the code cannot drift apart."""

from __future__ import annotations

from typing import Any

from .. import web_api
from .models import MAX_TEXT, OUTCOMES, URGENCIES, ReferralState

STATES = [s.value for s in ReferralState]
TEXT = {"type": "string", "maxLength": MAX_TEXT}
NULLABLE_TEXT = {"type": ["string", "null"], "maxLength": MAX_TEXT}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
ACCESS = ["open", "withdrawn", "declined", "ended"]
WAITING = ["acknowledge", "schedule", "attendance", "feedback", "done"]
CONFLICT = {
    "description": "The move is not allowed from the referral's state now "
    "(`illegal_transition`), or someone changed the referral a moment ago "
    "(`referral_conflict`). Nothing was changed.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _object(required: list[str], properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "additionalProperties": False,
            "properties": properties, **extra}  # fmt: skip


FEEDBACK_TEXTS = {
    "summary": TEXT | {"minLength": 1, "description": "What was found and done (required)."},
    "assessment": TEXT,
    "for_school": TEXT | {"description": "Recommendations for the school."},
    "for_family": TEXT | {"description": "Recommendations for the family."},
    "next_appointment": TEXT,
    "return_advice": TEXT | {"description": "Advice on returning to school (复学)."},
}
FEEDBACK_OUT = {name: NULLABLE_TEXT for name in FEEDBACK_TEXTS} | {
    "summary": TEXT, "advises_return": {"type": "boolean"},
}  # fmt: skip

OPENAPI_SCHEMAS: dict[str, Any] = {
    "MinimumDataset": _object(
        [
            "name",
            "sex",
            "age",
            "school",
            "grade",
            "guardian",
            "reason",
            "screening",
            "tier",
            "urgency",
        ],
        {
            "name": {"type": "string"},
            "sex": {"type": ["string", "null"], "description": "M, F or another value."},
            "age": {"type": ["integer", "null"], "minimum": 0},
            "school": {"type": "string"},
            "grade": {"type": ["integer", "null"]},
            "guardian": {
                "type": ["object", "null"],
                "additionalProperties": False,
                "required": ["name", "phone"],
                "properties": {"name": {"type": "string"}, "phone": {"type": "string"}},
            },
            "reason": {"type": ["string", "null"], "description": "Written for the partner."},
            "screening": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/SharedScreening"},
            },
            "tier": {"type": ["integer", "null"], "minimum": 0, "maximum": 3},
            "urgency": {"type": "string", "enum": list(URGENCIES)},
        },
        description="Exactly what the school chose to share: never notes, the plan, other "
        "screenings or the record.",
    ),
    "SharedScreening": _object(
        ["instrument", "date", "scores", "total_band"],
        {
            "instrument": {"type": "string", "description": "The instrument's code (phq9)."},
            "date": {"type": "string", "format": "date"},
            "scores": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "value": {"type": ["number", "null"]},
                        "band": {"type": ["string", "null"]},
                    },
                },
            },
            "total_band": {"type": ["string", "null"]},
            "answers": {
                "type": "object",
                "description": "Item answers, only when shared.",
                "additionalProperties": {"type": ["integer", "number", "string", "null"]},
            },
        },
    ),
    "PartnerQueueItem": _object(
        [
            "id",
            "reference",
            "state",
            "waiting_for",
            "urgency",
            "due_at",
            "name",
            "age",
            "school",
            "grade",
        ],
        {
            "id": web_api.UUID,
            "reference": {"type": "string"},
            "state": {"type": "string", "enum": STATES},
            "waiting_for": {"type": "string", "enum": WAITING},
            "urgency": {"type": "string", "enum": list(URGENCIES)},
            "due_at": NULLABLE_TIME,
            "name": {"type": "string"},
            "age": {"type": ["integer", "null"]},
            "school": {"type": "string"},
            "grade": {"type": ["integer", "null"]},
        },
    ),
    "PartnerQueue": _object(
        ["referrals", "withdrawn"],
        {
            "referrals": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/PartnerQueueItem"},
            },
            "withdrawn": {
                "type": "array",
                "items": _object(
                    ["id", "reference", "access"],
                    {
                        "id": web_api.UUID,
                        "reference": {"type": "string"},
                        "access": {"type": "string", "enum": ["withdrawn"]},
                    },
                ),
            },
        },
    ),
    "PartnerReferralDocument": _object(
        [
            "id",
            "reference",
            "state",
            "urgency",
            "sent_at",
            "acknowledged_at",
            "due_at",
            "appointment_at",
            "access_expires_at",
            "dataset",
            "appointments",
            "feedback",
        ],
        {
            "id": web_api.UUID,
            "reference": {"type": "string"},
            "state": {"type": "string", "enum": STATES},
            "urgency": {"type": "string", "enum": list(URGENCIES)},
            "sent_at": NULLABLE_TIME,
            "acknowledged_at": NULLABLE_TIME,
            "due_at": NULLABLE_TIME,
            "appointment_at": NULLABLE_TIME,
            "access_expires_at": NULLABLE_TIME,
            "dataset": {"$ref": "#/components/schemas/MinimumDataset"},
            "appointments": {
                "type": "array",
                "items": _object(
                    ["at", "note", "attendance"],
                    {
                        "at": NULLABLE_TIME,
                        "note": NULLABLE_TEXT,
                        "attendance": {
                            "type": ["string", "null"],
                            "enum": ["attended", "missed", None],
                        },
                    },
                ),
            },
            "feedback": {
                "oneOf": [
                    {"type": "null"},
                    _object(
                        [*FEEDBACK_TEXTS, "advises_return", "at"],
                        FEEDBACK_OUT | {"at": NULLABLE_TIME},
                    ),
                ]
            },
        },
    ),
    "PartnerReferral": _object(
        ["id", "reference", "access", "referral"],
        {
            "id": web_api.UUID,
            "reference": {"type": "string"},
            "access": {
                "type": "string",
                "enum": ACCESS,
                "description": "open; otherwise why nothing is shown: withdrawn (or consent withdrawn), "
                "declined by your organisation, ended (closed, past the access period).",
            },
            "referral": {
                "oneOf": [
                    {"type": "null"},
                    {"$ref": "#/components/schemas/PartnerReferralDocument"},
                ]
            },
        },
    ),
    "PartnerDecline": _object(["reason"], {"reason": TEXT | {"minLength": 1}}),
    "PartnerAppointment": _object(
        ["at"],
        {
            "at": {
                "type": "string",
                "format": "date-time",
                "description": "ISO-8601 with a time zone; not in the past.",
            },
            "note": TEXT | {"description": "Department, place, what to bring."},
        },
    ),
    "PartnerAttendance": _object(["attended"], {"attended": {"type": "boolean"}}),
    "PartnerFeedback": _object(
        ["summary"],
        FEEDBACK_TEXTS | {"advises_return": {"type": "boolean", "description": "Advises 复学."}},
    ),
    "PartnerMoveResult": _object(
        ["id", "state", "told"],
        {
            "id": web_api.UUID,
            "state": {"type": "string", "enum": STATES},
            "told": {
                "type": "object",
                "description": "How many people of each group were told "
                "(in the app and by e-mail without the student's name).",
                "additionalProperties": {"type": "integer", "minimum": 0},
            },
        },
    ),
    "StudentReferral": _object(
        [
            "id",
            "state",
            "urgency",
            "direct",
            "partner",
            "created_at",
            "submitted_at",
            "sent_at",
            "acknowledged_at",
            "appointment_at",
            "feedback_at",
            "closed_at",
            "outcome",
            "consent_override",
            "feedback",
        ],
        {
            "id": web_api.UUID,
            "state": {"type": "string", "enum": STATES},
            "urgency": {"type": "string", "enum": list(URGENCIES)},
            "direct": {"type": "boolean"},
            "partner": {"type": ["string", "null"]},
            "created_at": NULLABLE_TIME,
            "submitted_at": NULLABLE_TIME,
            "sent_at": NULLABLE_TIME,
            "acknowledged_at": NULLABLE_TIME,
            "appointment_at": NULLABLE_TIME,
            "feedback_at": NULLABLE_TIME,
            "closed_at": NULLABLE_TIME,
            "outcome": {"type": ["string", "null"], "enum": [*OUTCOMES, None]},
            "consent_override": {"type": "boolean"},
            "feedback": {
                "oneOf": [
                    {"type": "null"},
                    _object([*FEEDBACK_TEXTS, "advises_return"], FEEDBACK_OUT),
                ]
            },
        },
    ),
    "StudentReferralList": _object(
        ["student_id", "referrals"],
        {
            "student_id": web_api.UUID,
            "referrals": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/StudentReferral"},
            },
        },
    ),
}

PARTNER = [{"bearer": ["partner:referrals"]}]
ID = web_api.path_id("referral_id")


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{schema}"}}}}  # fmt: skip


def _move(op: str, summary: str, body: str | None) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": web_api.ok_json("The referral's new state and who was told", "PartnerMoveResult"),
        "404": web_api.NOT_FOUND, "409": CONFLICT, "422": web_api.INVALID,
    }  # fmt: skip
    operation: dict[str, Any] = {
        "operationId": op, "summary": summary, "tags": ["referrals"], "security": PARTNER,
        "description": "Through the same service as the portal; audited. 404 for an unknown "
        "referral and one of another organisation alike.", "parameters": [ID],
    }  # fmt: skip
    if body is not None:
        operation["requestBody"] = _body(body)
        responses |= {"400": web_api.BAD_REQUEST, "413": web_api.TOO_LARGE,
                      "415": web_api.UNSUPPORTED_MEDIA_TYPE}  # fmt: skip
    return {"post": operation | {"responses": responses}}


OPENAPI_PATHS: dict[str, Any] = {
    "/partner/referrals": {
        "get": {
            "operationId": "listPartnerReferrals",
            "tags": ["referrals"],
            "security": PARTNER,
            "summary": "The liaison's referrals, by what each waits for",
            "description": "Referrals addressed to the caller's organisation that they may read "
            "(consent or an emergency override, not withdrawn, access not ended), oldest deadline "
            "first, with the identity part of the minimum dataset; withdrawn ones by reference "
            "only. Audited.",
            "responses": {"200": web_api.ok_json("The queue", "PartnerQueue")},
        }
    },
    "/partner/referrals/{referral_id}": {
        "get": {
            "operationId": "getPartnerReferral",
            "tags": ["referrals"],
            "security": PARTNER,
            "summary": "One referral: the minimum dataset and the partner's own records",
            "description": "Audited. 404 for an unknown referral and one of another organisation "
            "alike; one withdrawn, declined or past its access answers its `access` and no data.",
            "parameters": [ID],
            "responses": {
                "200": web_api.ok_json("The referral", "PartnerReferral"),
                "404": web_api.NOT_FOUND,
            },
        }
    },
    "/partner/referrals/{referral_id}/acknowledge": _move(
        "acknowledgePartnerReferral", "Acknowledge a referral sent to the organisation", None
    ),
    "/partner/referrals/{referral_id}/decline": _move(
        "declinePartnerReferral",
        "Decline a referral (back to the district centre)",
        "PartnerDecline",
    ),
    "/partner/referrals/{referral_id}/appointment": _move(
        "schedulePartnerAppointment",
        "Record an appointment (a first one, or after a missed one)",
        "PartnerAppointment",
    ),
    "/partner/referrals/{referral_id}/attendance": _move(
        "recordPartnerAttendance",
        "Record whether the student came to the appointment",
        "PartnerAttendance",
    ),
    "/partner/referrals/{referral_id}/feedback": _move(
        "sendPartnerFeedback", "Send the partner's feedback to the school", "PartnerFeedback"
    ),
    "/students/{student_id}/referrals": {
        "get": {
            "operationId": "listStudentReferrals",
            "tags": ["referrals"],
            "security": [{"bearer": ["referrals:read"]}],
            "summary": "A student's referrals: states, times and the partner's feedback",
            "description": "For the school's psychology teachers and leaders, and district "
            "counsellors once the district is involved. Audited. 404 for an unknown student and "
            "one outside the caller's scope alike.",
            "parameters": [web_api.path_id("student_id")],
            "responses": {
                "200": web_api.ok_json("The referrals, newest first", "StudentReferralList"),
                "404": web_api.NOT_FOUND,
            },
        }
    },
}
