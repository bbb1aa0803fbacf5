"""Helpers shared by the modules' ``api.py``: timestamps, query parameters, the "not visible"
answer and OpenAPI fragments.

Reads of one object the user may not see answer 404 like an unknown id (no existence oracle),
and the refusal is audited as the web's 403 is (``access:route:denied``, outcome denied).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Response, request
from flask_babel import force_locale
from jsonschema import Draft202012Validator

from .core.authz import Forbidden
from .core.errors import DomainError
from .web import api_error, record_denied


def iso(value: dt.datetime | None) -> str | None:
    """ISO-8601 in UTC (``2025-03-01T08:00:00+00:00``)."""
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def ids(values: list[uuid.UUID]) -> list[str]:
    return [str(v) for v in values]


class BadQuery(ValueError):
    """A query parameter has a value the endpoint does not accept (answered as 400, the
    parameter named in ``details``)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


@dataclass(frozen=True)
class QueryParam:
    """One query parameter, declared once: the OpenAPI document shows :attr:`schema` and
    :meth:`read` enforces exactly that schema (the same dict, checked by ``jsonschema``), so
    the document and the code cannot disagree about a limit.

    ``rule`` is the human-readable form of the schema used in the error message ("a whole
    number from 1 to 10000"); integer and enum schemas get one derived from the schema.
    """

    name: str
    description: str
    schema: Mapping[str, Any]
    required: bool = False
    rule: str = ""

    def openapi(self) -> dict[str, Any]:
        return {
            "name": self.name, "in": "query", "required": self.required,
            "description": self.description, "schema": copy.deepcopy(dict(self.schema)),
        }  # fmt: skip

    def read(self) -> Any:
        """The parameter's value (the schema's ``default`` when absent), or :class:`BadQuery`."""
        raw = request.args.get(self.name)
        if raw is None:
            if self.required:
                raise BadQuery(self.name, f"{self.name} is required: {self.describe()}.")
            return self.schema.get("default")
        value: Any = raw
        if self.schema.get("type") == "integer":
            if not _INTEGER.fullmatch(raw):
                raise BadQuery(self.name, f"{self.name} must be {self.describe()}.")
            value = int(raw)
        pattern = self.schema.get("pattern")
        if (
            not Draft202012Validator(dict(self.schema)).is_valid(value)
            # jsonschema searches with Python's re, where "$" also matches before a final
            # newline; the document's pattern (ECMA-262) does not: match the whole value.
            or (pattern is not None and re.fullmatch(pattern, value) is None)
        ):
            raise BadQuery(self.name, f"{self.name} must be {self.describe()}.")
        return value

    def describe(self) -> str:
        if self.rule:
            return self.rule
        schema = self.schema
        if "enum" in schema:
            return "one of: " + ", ".join(str(v) for v in schema["enum"])
        if schema.get("type") == "integer":
            low, high = schema.get("minimum"), schema.get("maximum")
            text = "a whole number"
            text += f" from {low}" if low is not None else ""
            text += f" to {high}" if high is not None else ""
            return text
        return "a valid value"


_INTEGER = re.compile(r"[+-]?[0-9]{1,20}")

MAX_PAGE = 10_000


def page_param() -> QueryParam:
    """The ``page`` of a page-based list (capped: a deep offset is a full scan)."""
    return QueryParam(
        "page", f"Page number, from 1 to {MAX_PAGE}.",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
    )  # fmt: skip


def choice_param(name: str, description: str, allowed: tuple[str, ...], default: str) -> QueryParam:
    return QueryParam(
        name, description, {"type": "string", "enum": list(allowed), "default": default}
    )


def bad_query(exc: BadQuery) -> Response:
    return api_error(
        400, "bad_request", str(exc),
        [{"location": "query", "field": exc.name, "message": str(exc)}],
    )  # fmt: skip


def not_found(message: str = "No such resource.") -> Response:
    return api_error(404, "not_found", message)


def not_visible(exc: Forbidden, message: str = "No such resource.") -> Response:
    """Answer a refused read of one object as 404, auditing the refusal."""
    record_denied(exc, answered="not_found")
    return not_found(message)


# --------------------------------------------------------------------------- OpenAPI fragments

UUID = {"type": "string", "format": "uuid"}
NULLABLE_UUID = {"type": ["string", "null"], "format": "uuid"}
DATE_TIME = {"type": "string", "format": "date-time", "description": "ISO-8601, UTC."}
BAD_REQUEST = {"$ref": "#/components/responses/BadRequest"}
NOT_FOUND = {"$ref": "#/components/responses/NotFound"}
TOO_LARGE = {"$ref": "#/components/responses/TooLarge"}
UNSUPPORTED_MEDIA_TYPE = {"$ref": "#/components/responses/UnsupportedMediaType"}
INVALID = {"$ref": "#/components/responses/Invalid"}


def path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": dict(UUID)}


def ok_json(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def domain_error(exc: DomainError) -> Response:
    """A service's refusal as the API's JSON error: its ``code``, its status, the message in
    English (the API's language), its parameters as ``details`` for machines."""
    with force_locale("en"):
        message = exc.message
        details = [{"field": key, "message": str(value)} for key, value in exc.params.items()]
    return api_error(exc.status, exc.code, message, details)
