"""Shared by the API tests: bearer tokens made on the account page's service, and checking an
answer against its schema in the OpenAPI document."""

from __future__ import annotations

import datetime as dt
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from sqlalchemy.orm import Session

from wellbeing.api.openapi import build_document
from wellbeing.auth.services import build_principal, create_api_token


def bearer(session: Session, user: Any, *scopes: str) -> dict[str, str]:
    new = create_api_token(
        session, build_principal(session, user), user, name="client", scopes=list(scopes), days=30
    )
    session.flush()
    return {"Authorization": f"Bearer {new.token}"}


def token_prefix(headers: dict[str, str]) -> str:
    """What the audit trail's session hash holds for this token ("tok:" and 8 characters)."""
    return "tok:" + headers["Authorization"].removeprefix("Bearer wbp_")[:8]


def schema_errors(schema_name: str, body: Any) -> list[str]:
    document = build_document()
    registry = Registry().with_resource("urn:wellbeing:openapi", Resource.opaque(document))
    ref = f"urn:wellbeing:openapi#/components/schemas/{schema_name}"
    validator = Draft202012Validator({"$ref": ref}, registry=registry)
    return [error.message for error in validator.iter_errors(body)]


def utc(value: str) -> dt.datetime:
    """Parse an API timestamp, insisting it is ISO-8601 in UTC."""
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.utcoffset() == dt.timedelta(0), value
    return parsed
