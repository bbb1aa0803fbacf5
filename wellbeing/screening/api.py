"""``POST /api/v1/campaigns/<id>/responses``: screening intake for survey platforms.

A batch of responses (one instrument each) is validated as a whole, exactly like a file
import; any error → 422 with every problem listed and nothing written. Each response carries
a client-supplied ``key``: sending the same batch again records nothing new and returns the
ids already recorded (idempotent).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, g, jsonify, request

from ..core.authz import Forbidden, Permission, can
from ..db import get_session
from ..web import require
from . import services
from .intake import IntakeError
from .models import Campaign

bp = Blueprint("screening_api", __name__, url_prefix="/api/v1")


def _error(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None):  # type: ignore[no-untyped-def]
    response = jsonify({"error": {"code": code, "message": message, "details": details or []}})
    response.status_code = status
    return response


@bp.post("/campaigns/<uuid:campaign_id>/responses")
@require(Permission.API_SCREENING_INTAKE)
def intake(campaign_id: uuid.UUID):  # type: ignore[no-untyped-def]
    db = get_session()
    campaign = db.get(Campaign, campaign_id)
    if campaign is None:
        return _error(404, "not_found", "No such campaign.")
    if not any(
        can(g.principal, Permission.API_SCREENING_INTAKE, s)
        for s in services.campaign_schools(db, campaign)
    ):
        raise Forbidden(Permission.API_SCREENING_INTAKE, campaign)
    body = request.get_json(silent=True)
    items = body.get("responses") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return _error(400, "bad_request", 'Send a JSON object {"responses": [...]}.')
    try:
        report = services.intake_api_batch(db, g.principal, campaign, items)
    except (services.ScreeningError, IntakeError) as exc:
        return _error(422, "invalid", str(exc))
    if not report.ok:
        details = [{"index": e.row, "field": e.column, "message": e.message} for e in report.errors]
        return _error(422, "invalid", f"{len(details)} problem(s); nothing was recorded.", details)
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


_ERROR_REF = {"$ref": "#/components/schemas/ScreeningError"}

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
                "description": "Client-chosen idempotency key, unique per campaign.",
            },
            "student_number": {
                "type": "string",
                "description": "The student's number at the school (学号).",
            },
            "school_code": {
                "type": "string",
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
    "ScreeningError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "index": {"type": "integer"},
                                "field": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
            }
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
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
                    "description": "Not a JSON batch",
                    "content": {"application/json": {"schema": _ERROR_REF}},
                },
                "404": {
                    "description": "No such campaign",
                    "content": {"application/json": {"schema": _ERROR_REF}},
                },
                "422": {
                    "description": "Invalid responses (details per index); nothing recorded",
                    "content": {"application/json": {"schema": _ERROR_REF}},
                },
            },
        }
    }
}
