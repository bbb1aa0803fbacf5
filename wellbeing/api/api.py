"""``/api/v1``: the caller's identity and the OpenAPI document.

``GET /api/v1/openapi.json`` is public: it describes the interface (no data, nothing about
any person), so integrators can read it before they have a token. Everything else needs a
bearer token: a browser session cookie never authenticates the API (``auth/hooks.py``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from ..core.authz import Permission
from ..web import require
from ..web_api import iso
from .openapi import build_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/me")
@require(Permission.SELF_SESSION)
def me() -> ResponseReturnValue:
    """Who the token acts for: the staff user, roles, the token and its scopes. No child data."""
    user, principal, token = g.user, g.principal, g.api_token
    return jsonify(
        {
            "id": str(user.id),
            "username": user.username,
            "display_name": user.display_name,
            "roles": sorted(str(role) for role in principal.roles),
            "auth": "token",
            "scopes": token.scope_list,
            "token": {
                "id": str(token.id),
                "name": token.name,
                "prefix": token.prefix,
                "expires_at": iso(token.expires_at),
            },
        }
    )


@bp.get("/openapi.json")
@require(Permission.PUBLIC)
def openapi() -> ResponseReturnValue:
    return jsonify(build_document())


OPENAPI_SCHEMAS: dict[str, Any] = {
    "Me": {
        "type": "object",
        "required": ["id", "username", "display_name", "roles", "auth", "scopes", "token"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "username": {"type": "string"},
            "display_name": {"type": "string"},
            "roles": {"type": "array", "items": {"type": "string"}},
            "auth": {
                "type": "string",
                "enum": ["token"],
                "description": "Always token: only bearer tokens authenticate the API.",
            },
            "scopes": {"type": "array", "items": {"type": "string"}},
            "token": {"$ref": "#/components/schemas/TokenInfo"},
        },
    },
    "TokenInfo": {
        "type": "object",
        "required": ["id", "name", "prefix", "expires_at"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": {"type": "string"},
            "prefix": {"type": "string", "description": "The first characters of the token."},
            "expires_at": {"type": "string", "format": "date-time"},
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/me": {
        "get": {
            "operationId": "getMe",
            "summary": "The user the token acts for, with roles and scopes",
            "tags": ["account"],
            "responses": {
                "200": {
                    "description": "The caller",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Me"}}
                    },
                }
            },
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "tags": ["meta"],
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
}
