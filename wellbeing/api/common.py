"""Helpers shared by the modules' ``api.py``: timestamps, query parameters, the "not visible"
answer and OpenAPI fragments.

Reads of one object the user may not see answer 404 like an unknown id (no existence oracle),
and the refusal is audited as the web's 403 is (``access:route:denied``, outcome denied).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Response, g, request

from ..core import audit
from ..core.authz import Forbidden
from ..db import get_db
from ..web import api_error


def iso(value: dt.datetime | None) -> str | None:
    """ISO-8601 in UTC (``2025-03-01T08:00:00+00:00``)."""
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def ids(values: list[uuid.UUID]) -> list[str]:
    return [str(v) for v in values]


class BadQuery(ValueError):
    """A query parameter has a value the endpoint does not accept (answered as 400)."""


def choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.args.get(name, default)
    if value not in allowed:
        raise BadQuery(f"{name} must be one of: {', '.join(allowed)}.")
    return value


def page_number(name: str = "page") -> int:
    raw = request.args.get(name, "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise BadQuery(f"{name} must be a whole number from 1.")
    return int(raw)


def bad_query(exc: BadQuery) -> Response:
    return api_error(400, "bad_request", str(exc))


def not_found(message: str = "No such resource.") -> Response:
    return api_error(404, "not_found", message)


def not_visible(exc: Forbidden, message: str = "No such resource.") -> Response:
    """Answer a refused read of one object as 404, auditing the refusal (it survives the
    request's rollback: :func:`audit.record_now`)."""
    target = exc.target
    audit.record_now(
        get_db(),
        audit.AuditAction.ACCESS_DENIED,
        object_type=type(target).__name__.lower() if target is not None else "route",
        object_id=getattr(target, "id", None) or request.endpoint,
        student_id=getattr(target, "student_id", None),
        school_id=getattr(target, "school_id", None),
        detail={"permission": str(exc.permission), "endpoint": request.endpoint or "",
                "answered": "not_found"},
        outcome=audit.Outcome.DENIED,
        actor=g.get("audit_actor"),
    )  # fmt: skip
    return not_found(message)


# --------------------------------------------------------------------------- OpenAPI fragments

UUID = {"type": "string", "format": "uuid"}
NULLABLE_UUID = {"type": ["string", "null"], "format": "uuid"}
DATE_TIME = {"type": "string", "format": "date-time", "description": "ISO-8601, UTC."}
BAD_REQUEST = {"$ref": "#/components/responses/BadRequest"}
NOT_FOUND = {"$ref": "#/components/responses/NotFound"}


def path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": dict(UUID)}


def ok_json(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def query_param(name: str, description: str, schema: dict[str, Any], *, required: bool = False
                ) -> dict[str, Any]:  # fmt: skip
    return {
        "name": name, "in": "query", "required": required, "description": description,
        "schema": schema,
    }  # fmt: skip
