"""``POST /api/v1/campaigns/<id>/responses``: screening intake for survey platforms;
``GET /api/v1/campaigns/<id>/progress``: counts per school and grade (no names).

A batch of responses (one instrument each) is validated as a whole, exactly like a file
import; any error → 422 with every problem listed and nothing written. Each response carries
a client-supplied ``key``: sending the same batch again records nothing new and returns the
ids already recorded (idempotent).
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from .. import web_api
from ..core.authz import Forbidden, Permission, can
from ..db import get_session
from ..orgs.models import School
from ..orgs.services import CODE_RE
from ..web import accepts_body, api_error, require
from . import queries, services
from .clock import local_today
from .errors import ScreeningError
from .intake.report import TIER_NAMES
from .models import CAMPAIGN_PHASES, Campaign

bp = Blueprint("screening_api", __name__, url_prefix="/api/v1")

# A full batch (MAX_API_BATCH responses) with room to spare; the document states it (413).
INTAKE_BODY_LIMIT = 4 * 1024 * 1024


@bp.post("/campaigns/<uuid:campaign_id>/responses")
@require(Permission.API_SCREENING_INTAKE)
@accepts_body(INTAKE_BODY_LIMIT)
def intake(campaign_id: uuid.UUID) -> ResponseReturnValue:
    db = get_session()
    campaign = db.get(Campaign, campaign_id)
    if campaign is None:
        return web_api.not_found("No such campaign.")
    if not any(
        can(g.principal, Permission.API_SCREENING_INTAKE, s)
        for s in services.campaign_schools(db, campaign)
    ):  # answered like an unknown campaign: no existence oracle (the denial is still audited)
        return web_api.not_visible(
            Forbidden(Permission.API_SCREENING_INTAKE, campaign), "No such campaign."
        )
    if not request.is_json:
        return api_error(415, "unsupported_media_type", "Send the batch as application/json.")
    body = request.get_json(silent=True)
    items = body.get("responses") if isinstance(body, dict) else None
    if not isinstance(items, list):
        message = 'Send a JSON object {"responses": [...]}.'
        return api_error(400, "bad_request", message, [{"location": "body", "message": message}])
    problems = _batch_problems(body)
    if problems:
        message = f"{len(problems)} problem(s); nothing was recorded."
        return api_error(422, "invalid", message, problems)
    try:
        report = services.intake_api_batch(db, g.principal, campaign, items)
    except ScreeningError as exc:  # an IntakeError too (the campaign refuses the batch)
        return web_api.domain_error(exc)
    if not report.ok:
        details = [
            {"location": "body", "index": e.row, "field": e.column, "message": e.message}
            for e in report.errors
        ]
        message = f"{len(details)} problem(s); nothing was recorded."
        return api_error(422, "invalid", message, details)
    results = []
    for n, raw in enumerate(items):
        response_id, created = report.results[n]
        results.append(
            {
                "key": raw["key"],
                "id": str(response_id),
                "status": "created" if created else "unchanged",
            }
        )
    tiers = dict(zip(("green", "yellow", "orange", "red"), report.tiers, strict=True))
    status = 201 if report.created else 200
    return jsonify({"created": report.created, "unchanged": report.unchanged, "critical": report.critical,
                    "tiers": tiers, "results": results}), status  # fmt: skip


def _batch_problems(body: Any) -> list[dict[str, Any]]:
    """The body checked against the document's own ``ScreeningBatch`` schema, so what the
    document allows and what is accepted cannot drift apart (an unknown field, such as a
    misspelt ``school_code``, is refused rather than silently dropped)."""
    problems = []
    for error in _batch_validator().iter_errors(body):
        path = list(error.absolute_path)
        detail: dict[str, Any] = {"location": "body", "message": error.message[:200]}
        if len(path) >= 2 and path[0] == "responses" and isinstance(path[1], int):
            detail |= {"index": path[1], "field": ".".join(str(p) for p in path[2:])}
        else:
            detail["field"] = ".".join(str(p) for p in path)
        problems.append(detail)
    return sorted(problems, key=lambda d: (d.get("index", -1), d["field"]))


@functools.cache
def _batch_validator() -> Draft202012Validator:
    document = {"components": {"schemas": OPENAPI_SCHEMAS}}
    registry = Registry().with_resource("urn:wellbeing:screening", Resource.opaque(document))
    ref = "urn:wellbeing:screening#/components/schemas/ScreeningBatch"
    return Draft202012Validator({"$ref": ref}, registry=registry)


@bp.get("/campaigns/<uuid:campaign_id>/progress")
@require(Permission.SCREENING_READ)
def progress(campaign_id: uuid.UUID) -> ResponseReturnValue:
    """Counts only, as the campaign results page shows them: for the campaign's schools
    where the caller holds ``screening:read``."""
    db = get_session()
    campaign = db.get(Campaign, campaign_id)
    if campaign is None:
        return web_api.not_found("No such campaign.")
    schools = [
        s for s in services.campaign_schools(db, campaign)
        if can(g.principal, Permission.SCREENING_READ, s)
    ]  # fmt: skip
    if not schools:  # answered like an unknown campaign: no existence oracle
        return web_api.not_visible(
            Forbidden(Permission.SCREENING_READ, campaign), "No such campaign."
        )
    return jsonify(
        {"campaign_id": str(campaign.id), "status": campaign.phase(local_today()),
         "opens_on": campaign.opens_on.isoformat(), "closes_on": campaign.closes_on.isoformat(),
         "instruments": list(campaign.instruments), "rows": _progress_rows(campaign, schools)}
    )  # fmt: skip


def _progress_rows(campaign: Campaign, schools: list[School]) -> list[dict[str, Any]]:
    """:func:`queries.progress` (per class, summed per grade) joined with
    :func:`queries.results` by grade: one row per school and grade."""
    db = get_session()
    codes = {s.id: s.code for s in schools}
    merged: dict[tuple[uuid.UUID, int], dict[str, Any]] = {}

    def row(school_id: uuid.UUID, grade: int) -> dict[str, Any]:
        return merged.setdefault((school_id, grade), {
            "school_code": codes[school_id], "grade": grade, "eligible": 0, "screened": 0,
            "missing": 0, "voided": 0, "bands": {}, "tiers": dict.fromkeys(TIER_NAMES, 0),
            "critical": 0,
        })  # fmt: skip

    for p in queries.progress(db, campaign, list(codes)):
        target = row(p.school_id, p.grade)
        for key in ("eligible", "screened", "missing", "voided"):
            target[key] += getattr(p, key)
    for r in queries.results(db, campaign, list(codes), by="grade"):
        target = row(r.school_id, r.grade or 0)
        target["bands"] = {code: dict(counts) for code, counts in r.bands.items()}
        target["tiers"] = dict(zip(TIER_NAMES, r.tiers, strict=True))
        target["critical"] = r.critical
    return sorted(merged.values(), key=lambda r: (r["school_code"], r["grade"]))


_COUNT = {"type": "integer", "minimum": 0}
_ERROR = {"$ref": "#/components/schemas/Error"}
_NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u001f\\u007f]*$"

OPENAPI_SCHEMAS: dict[str, Any] = {
    "ScreeningResponseIn": {
        "type": "object",
        "required": ["key", "student_number", "instrument", "answers"],
        "additionalProperties": False,
        "properties": {
            "key": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "pattern": _NO_CONTROL_CHARACTERS,
                "description": "Client-chosen idempotency key, unique per campaign.",
            },
            "student_number": {
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "pattern": "\\S",
                "description": "The student's number at the school (学号).",
            },
            "school_code": {
                "type": "string",
                "pattern": CODE_RE.pattern,
                "description": "Required when the campaign covers several schools.",
            },
            "instrument": {"type": "string", "examples": ["phq9", "gad7"]},
            "answers": {
                "type": "object",
                "additionalProperties": {"type": ["integer", "null"]},
                "description": 'Item code → option value (null = not answered), e.g. {"phq9_1": 2}.',
            },
        },
    },
    "ScreeningBatch": {
        "type": "object",
        "required": ["responses"],
        "properties": {
            "responses": {
                "type": "array",
                "minItems": 1,
                "maxItems": services.MAX_API_BATCH,
                "items": {"$ref": "#/components/schemas/ScreeningResponseIn"},
            },
        },
    },
    "ScreeningBatchResult": {
        "type": "object",
        "required": ["created", "unchanged", "critical", "tiers", "results"],
        "properties": {
            "created": {"type": "integer"},
            "unchanged": {
                "type": "integer",
                "description": "Responses already recorded (same key).",
            },
            "critical": {"type": "integer", "description": "New responses with a critical item."},
            "tiers": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "Tier decisions this batch produced (green/yellow/orange/red).",
            },
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "id", "status"],
                    "properties": {
                        "key": {"type": "string"},
                        "id": {"type": "string", "format": "uuid"},
                        "status": {"enum": ["created", "unchanged"]},
                    },
                },
            },
        },
    },
}

OPENAPI_SCHEMAS["CampaignProgress"] = {
    "type": "object",
    "description": "Counts only (no names, no student ids), as on the campaign results page.",
    "required": ["campaign_id", "status", "opens_on", "closes_on", "instruments", "rows"],
    "additionalProperties": False,
    "properties": {
        "campaign_id": web_api.UUID,
        "status": {
            "enum": list(CAMPAIGN_PHASES),
            "description": "On today's date in the schools' time zone: upcoming (opens later), "
            "open, or closed.",
        },
        "opens_on": {"type": "string", "format": "date"},
        "closes_on": {"type": "string", "format": "date"},
        "instruments": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "array", "items": {"$ref": "#/components/schemas/CampaignProgressRow"}},
    },
}
OPENAPI_SCHEMAS["CampaignProgressRow"] = {
    "type": "object",
    "required": ["school_code", "grade", "eligible", "screened", "missing", "voided", "bands",
                 "tiers", "critical"],
    "additionalProperties": False,
    "properties": {
        "school_code": {"type": "string"},
        "grade": {"type": "integer"},
        "eligible": _COUNT | {"description": "Active students of the campaign's grades."},
        "screened": _COUNT | {"description": "Students with at least one response."},
        "missing": _COUNT | {"description": "Eligible students not screened yet."},
        "voided": _COUNT | {"description": "Students with a voided response."},
        "bands": {
            "type": "object",
            "description": "Instrument code → band code (or incomplete) → responses.",
            "additionalProperties": {"type": "object", "additionalProperties": _COUNT},
        },
        "tiers": {
            "type": "object",
            "description": "Students by their highest screening tier in the campaign.",
            "required": list(TIER_NAMES),
            "additionalProperties": False,
            "properties": {name: _COUNT for name in TIER_NAMES},
        },
        "critical": _COUNT | {"description": "Students with a critical item answered."},
    },
}  # fmt: skip

OPENAPI_PATHS: dict[str, Any] = {
    "/campaigns/{campaign_id}/progress": {
        "get": {
            "operationId": "getCampaignProgress",
            "summary": "Screening progress and results of a campaign, counted per school and grade",
            "description": "Only the campaign's schools where the caller may read screening "
            "results. Not paginated (one row per school and grade). 404, as for an unknown "
            "campaign, when the caller may read none of them.",
            "tags": ["screening"],
            "security": [{"bearer": ["screening:read"]}],
            "parameters": [web_api.path_id("campaign_id")],
            "responses": {
                "200": web_api.ok_json("Counts", "CampaignProgress"),
                "404": web_api.NOT_FOUND,
            },
        }
    },
    "/campaigns/{campaign_id}/responses": {
        "post": {
            "operationId": "postScreeningResponses",
            "summary": "Send a batch of screening responses (validated as a whole, idempotent by key)",
            "tags": ["screening"],
            "security": [{"bearer": ["screening:intake"]}],
            "parameters": [
                {
                    "name": "campaign_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "format": "uuid"},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ScreeningBatch"}}
                },
            },
            "responses": {
                "201": {
                    "description": "Recorded (at least one new response)",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ScreeningBatchResult"}
                        }
                    },
                },
                "200": {
                    "description": "Nothing new: every response was already recorded",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ScreeningBatchResult"}
                        }
                    },
                },
                "400": {
                    "description": "The body is not a JSON object with a `responses` list",
                    "content": {"application/json": {"schema": _ERROR}},
                },
                "404": web_api.NOT_FOUND,
                "413": {
                    "description": f"The body is larger than {INTAKE_BODY_LIMIT} bytes",
                    "content": {"application/json": {"schema": _ERROR}},
                },
                "415": web_api.UNSUPPORTED_MEDIA_TYPE,
                "422": {
                    "description": "Invalid responses (`details`: index, field, message); "
                    "nothing recorded",
                    "content": {"application/json": {"schema": _ERROR}},
                },
            },
        }
    },
}
