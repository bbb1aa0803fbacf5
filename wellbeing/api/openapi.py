"""Assemble the OpenAPI 3.1 document from every module.

Each module's ``api.py`` may define

* ``OPENAPI_PATHS``: ``{path: {method: operation}}``. Paths are relative to ``/api/v1``
  (``"/students/{student_id}"``; a full ``"/api/v1/..."`` is accepted too). An operation needs
  ``responses``; secured operations may name the token scopes they need as
  ``"security": [{"bearer": ["students:read"]}]`` (the default is any valid token). Standard
  error responses (401, 403, 500, 503; public: 401, 500, 503) are added when the operation
  does not list them.
* ``OPENAPI_SCHEMAS``: ``{name: JSON schema}``, referenced as ``#/components/schemas/<name>``.

Errors use one shape everywhere: ``{"error": {"code": "...", "message": "...", "details": []}}``
(``#/components/schemas/Error``, built by :func:`wellbeing.web.api_error`; reusable responses
under ``#/components/responses``). Query parameters are declared once as
:class:`wellbeing.web_api.QueryParam`, which both documents and enforces them.
"""

from __future__ import annotations

import copy
from typing import Any

from .. import modules

API_PREFIX = "/api/v1"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

ERROR_DETAIL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["message"],
    "additionalProperties": False,
    "properties": {
        "location": {
            "type": "string",
            "enum": ["query", "path", "body"],
            "description": "Where the faulty value was sent.",
        },
        "field": {
            "type": "string",
            "description": "The query parameter, or the field of a body item (answers.phq9_1).",
        },
        "index": {
            "type": "integer",
            "minimum": 0,
            "description": "The position of the faulty item in a batch (from 0).",
        },
        "message": {"type": "string"},
    },
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "additionalProperties": False,
            "properties": {
                "code": {
                    "type": "string",
                    "description": "Stable machine-readable code, e.g. unauthenticated, "
                    "invalid_token, forbidden, not_found, method_not_allowed, bad_request, "
                    "too_large, unsupported_media_type, invalid, internal_error, unavailable.",
                },
                "message": {"type": "string", "description": "Human-readable explanation."},
                "details": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/ErrorDetail"},
                    "description": "One entry per faulty parameter or item; often empty.",
                },
            },
        }
    },
}

_HEADER_TEXT = {"schema": {"type": "string"}}

STANDARD_RESPONSES: dict[str, tuple[str, str]] = {
    # status: (component name, description)
    "400": (
        "BadRequest",
        "A query parameter is outside its documented schema, or the body is not the JSON "
        "described; `details` names each faulty parameter.",
    ),
    "401": (
        "Unauthenticated",
        "No bearer token, or a token that is unknown, expired or revoked (also on public "
        "operations when a token is sent). Browser session cookies do not authenticate the API.",
    ),
    "403": ("Forbidden", "The token's scopes or the user's role and school do not allow this."),
    "404": ("NotFound", "No such resource (or not visible to this user)."),
    "405": (
        "MethodNotAllowed",
        "The method is not allowed on this path (the `Allow` header lists those that are).",
    ),
    "413": ("TooLarge", "The request body is larger than the server accepts."),
    "415": ("UnsupportedMediaType", "The body must be sent as `application/json`."),
    "422": ("Invalid", "The JSON is well formed but its content is invalid (see `details`)."),
    "500": ("InternalError", "Unexpected server error (logged; no details are returned)."),
    "503": ("Unavailable", "The service or its database is temporarily unavailable."),
}
# Headers the standard responses carry (documented so clients can rely on them).
STANDARD_HEADERS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {
            "description": 'The scheme to use: `Bearer realm="wellbeing"`, or '
            '`Bearer error="invalid_token"` when the token sent is not valid (RFC 6750).',
            **_HEADER_TEXT,
        }
    },
    "405": {"Allow": {"description": "The methods the path allows.", **_HEADER_TEXT}},
}
# Added to every operation that does not list them: what can happen on any request. 400, 404,
# 413, 415 and 422 happen only where a module's operation says so (parameters, ids, bodies);
# 405 belongs to no operation (it answers the methods a path does not document). There is no
# 429: no API operation is rate-limited.
_DEFAULT_SECURED = ("401", "403", "500", "503")
_DEFAULT_PUBLIC = ("401", "500", "503")


class OpenApiConflict(ValueError):
    """Two modules describe the same path and method."""


def _base_document() -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (name, description) in STANDARD_RESPONSES.items():
        responses[name] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        if status in STANDARD_HEADERS:
            responses[name]["headers"] = copy.deepcopy(STANDARD_HEADERS[status])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Wellbeing API",
            "version": "1",
            "description": (
                "Personal access tokens (created on the account page, shown once, stored "
                "hashed, expiring, revocable) authenticate with `Authorization: Bearer <token>`; "
                "nothing else does (a browser session cookie is ignored here, so the API needs "
                "no CSRF token). A token acts for its user: it can do only what both its scopes "
                "and the user's role and school allow. Without a valid token a secured "
                "operation answers 401 with `WWW-Authenticate: Bearer`, before anything else "
                "is checked. Errors have one shape (`Error`: code, message, details). A method "
                "a path does not list answers 405 with an `Allow` header. "
                "This document itself is public: it describes the interface, never data."
            ),
        },
        "servers": [{"url": API_PREFIX}],
        "security": [{"bearer": []}],
        "paths": {},
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal access token (starts with wbp_).",
                }
            },
            "schemas": {
                "Error": copy.deepcopy(ERROR_SCHEMA),
                "ErrorDetail": copy.deepcopy(ERROR_DETAIL_SCHEMA),
            },
            "responses": responses,
        },
    }


def _relative(path: str) -> str:
    if path.startswith(API_PREFIX + "/"):
        path = path[len(API_PREFIX) :]
    if not path.startswith("/"):
        raise ValueError(f"OpenAPI path must start with '/': {path!r}")
    return path


def _with_default_errors(operation: dict[str, Any], document_security: list[Any]) -> dict[str, Any]:
    operation = copy.deepcopy(operation)
    responses = operation.setdefault("responses", {})
    secured = operation.get("security", document_security) != []
    for status in _DEFAULT_SECURED if secured else _DEFAULT_PUBLIC:
        if status not in responses:
            responses[status] = {"$ref": f"#/components/responses/{STANDARD_RESPONSES[status][0]}"}
    return operation


def build_document(
    path_parts: list[dict[str, Any]] | None = None, schema_parts: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The whole document; by default from every module's ``api.py``."""
    if path_parts is None:
        path_parts = list(modules.iter_parts("api", "OPENAPI_PATHS"))
    if schema_parts is None:
        schema_parts = list(modules.iter_parts("api", "OPENAPI_SCHEMAS"))
    doc = _base_document()
    for part in schema_parts:
        for name, schema in part.items():
            existing = doc["components"]["schemas"].get(name)
            if existing is not None and existing != schema:
                raise OpenApiConflict(f"schema {name} is defined twice, differently")
            doc["components"]["schemas"][name] = copy.deepcopy(schema)
    for part in path_parts:
        for raw_path, item in part.items():
            path = _relative(raw_path)
            target = doc["paths"].setdefault(path, {})
            for key, value in item.items():
                if key in METHODS:
                    if key in target:
                        raise OpenApiConflict(f"{key.upper()} {path} is described twice")
                    target[key] = _with_default_errors(value, doc["security"])
                else:  # path-level fields: parameters, summary, description
                    target[key] = copy.deepcopy(value)
    doc["paths"] = dict(sorted(doc["paths"].items()))
    return doc
