"""Assemble the OpenAPI 3.1 document from every module.

Each module's ``api.py`` may define

* ``OPENAPI_PATHS``: ``{path: {method: operation}}``. Paths are relative to ``/api/v1``
  (``"/students/{student_id}"``; a full ``"/api/v1/..."`` is accepted too). An operation needs
  ``responses``; secured operations may name the token scopes they need as
  ``"security": [{"bearer": ["students:read"]}]`` (the default is any valid token). Standard
  error responses (401, 403, 429, 500) are added when the operation does not list them.
* ``OPENAPI_SCHEMAS``: ``{name: JSON schema}``, referenced as ``#/components/schemas/<name>``.

Errors use one shape everywhere: ``{"error": {"code": "...", "message": "..."}}``
(``#/components/schemas/Error``; reusable responses under ``#/components/responses``).
"""

from __future__ import annotations

import copy
from typing import Any

from .. import modules

API_PREFIX = "/api/v1"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": "Stable machine-readable code, e.g. unauthenticated, "
                    "invalid_token, forbidden, not_found, method_not_allowed, bad_request, "
                    "rate_limited, internal_error, unavailable.",
                },
                "message": {"type": "string", "description": "Human-readable explanation."},
            },
        }
    },
}

STANDARD_RESPONSES: dict[str, tuple[str, str]] = {
    # status: (component name, description)
    "400": (
        "BadRequest",
        "The request is malformed (or a cookie-authenticated post lacks its CSRF token).",
    ),
    "401": ("Unauthenticated", "No valid API token (unknown, expired or revoked)."),
    "403": ("Forbidden", "The token's scopes or the user's role and school do not allow this."),
    "404": ("NotFound", "No such resource (or not visible to this user)."),
    "405": ("MethodNotAllowed", "The method is not allowed on this path."),
    "429": ("RateLimited", "Too many requests; retry later."),
    "500": ("InternalError", "Unexpected server error (logged; no details are returned)."),
    "503": ("Unavailable", "The service or its database is temporarily unavailable."),
}
_DEFAULT_SECURED = ("401", "403", "429", "500")
_DEFAULT_PUBLIC = ("429", "500")


class OpenApiConflict(ValueError):
    """Two modules describe the same path and method."""


def _base_document() -> dict[str, Any]:
    responses = {
        name: {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for name, description in STANDARD_RESPONSES.values()
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Wellbeing API",
            "version": "1",
            "description": (
                "Personal access tokens (created on the account page, shown once, stored "
                "hashed, expiring, revocable) authenticate with `Authorization: Bearer <token>`. "
                "A token acts for its user: it can do only what both its scopes and the user's "
                "role and school allow. Requests with a bearer token need no CSRF token. "
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
            "schemas": {"Error": copy.deepcopy(ERROR_SCHEMA)},
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
