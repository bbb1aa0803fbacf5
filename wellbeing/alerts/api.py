"""``/api/v1/alerts``: the token owner's alerts inbox and one alert, read-only.

Least data: kind, state, tier, school code, times, rung. Never a name or the resolution note.
``student_id`` is given only where the web would show the student's name, i.e. when the
caller may open that student's record (for a token: it also carries ``students:read``), and
never for break-glass alerts. Acknowledging and resolving stay web actions.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import web_api
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission, can
from ..db import get_session
from ..students.models import Student
from ..students.queries import school_codes
from ..web import require
from . import queries, services
from .models import KINDS, STATES, Alert, AlertState

bp = Blueprint("alerts_api", __name__, url_prefix="/api/v1")

STATE = web_api.choice_param(
    "state", "Which alerts (default open).", queries.STATE_FILTERS, AlertState.OPEN.value
)
PAGE = web_api.page_param()


def _shown_students(session: Session, alerts: Sequence[Alert]) -> set[uuid.UUID]:
    """Students whose id the caller may see: those whose record they may open."""
    wanted = {a.student_id for a in alerts if a.student_id and a.kind != "break_glass"}
    if not wanted or not can(g.principal, Permission.RECORD_READ):
        return set()
    students = session.scalars(select(Student).where(Student.id.in_(wanted)))
    return {s.id for s in students if can(g.principal, Permission.RECORD_READ, s)}


def _payload(session: Session, alerts: Sequence[Alert], shown: set[uuid.UUID]) -> list[dict[str, Any]]:  # fmt: skip
    codes = school_codes(session, {a.school_id for a in alerts if a.school_id})
    return [
        {
            "id": str(a.id), "kind": a.kind, "state": a.state, "tier": a.tier,
            "school_code": codes.get(a.school_id) if a.school_id else None,
            "student_id": str(a.student_id) if a.student_id in shown else None,
            "raised_at": web_api.iso(a.raised_at), "due_at": web_api.iso(a.due_at), "rung": a.rung,
            "acknowledged_at": web_api.iso(a.acknowledged_at),
            "resolved_at": web_api.iso(a.resolved_at),
        }
        for a in alerts
    ]  # fmt: skip


@bp.get("/alerts")
@require(Permission.SELF_INBOX, sensitive=True)
def inbox() -> ResponseReturnValue:
    try:
        state, page_no = STATE.read(), PAGE.read()
    except web_api.BadQuery as exc:
        return web_api.bad_query(exc)
    session = get_session()
    page = queries.inbox_page(session, g.principal.user_id, state, page_no)
    alerts = [row.alert for row in page.rows]
    shown = _shown_students(session, alerts)
    audit.record(
        session, AuditAction.ALERT_LIST, object_type="alert",
        fields=["student_id"] if shown else [],
        detail={
            "state": state, "page": page.page, "alerts": [a.id for a in alerts],
            "students": sorted({str(a.student_id) for a in alerts if a.student_id}),
        },
    )  # fmt: skip
    return jsonify(
        {"alerts": _payload(session, alerts, shown), "page": page.page,
         "page_size": queries.PAGE_SIZE, "has_prev": page.has_prev, "has_next": page.has_next}
    )  # fmt: skip


@bp.get("/alerts/<uuid:alert_id>")
@require(Permission.SELF_INBOX, sensitive=True)
def detail(alert_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    try:
        alert = services.get_alert(session, g.principal, alert_id)
    except services.AlertNotFound:
        return web_api.not_found("No such alert.")
    except Forbidden as exc:
        return web_api.not_visible(exc, "No such alert.")
    shown = _shown_students(session, [alert])
    audit.record(
        session, AuditAction.ALERT_VIEW, object_type="alert", object_id=alert.id,
        student_id=alert.student_id, school_id=alert.school_id,
        fields=["student_id"] if shown else [], detail={"kind": alert.kind, "state": alert.state},
    )  # fmt: skip
    return jsonify(_payload(session, [alert], shown)[0])


OPENAPI_SCHEMAS: dict[str, Any] = {
    "Alert": {
        "type": "object",
        "description": "An alert's operational metadata: never a name or a note.",
        "required": [
            "id",
            "kind",
            "state",
            "tier",
            "school_code",
            "student_id",
            "raised_at",
            "due_at",
            "rung",
            "acknowledged_at",
            "resolved_at",
        ],
        "additionalProperties": False,
        "properties": {
            "id": web_api.UUID,
            "kind": {"type": "string", "enum": list(KINDS)},
            "state": {"type": "string", "enum": [s.value for s in STATES]},
            "tier": {"type": ["integer", "null"], "minimum": 0, "maximum": 3},
            "school_code": {"type": ["string", "null"]},
            "student_id": web_api.NULLABLE_UUID
            | {
                "description": "Only when the caller may open the student's record (a token "
                "needs students:read too); null for break-glass alerts."
            },
            "raised_at": web_api.DATE_TIME,
            "due_at": web_api.DATE_TIME | {"description": "First response due (ISO-8601, UTC)."},
            "rung": {"type": "integer", "description": "The escalation rung last notified."},
            "acknowledged_at": {"type": ["string", "null"], "format": "date-time"},
            "resolved_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "AlertPage": {
        "type": "object",
        "required": ["alerts", "page", "page_size", "has_prev", "has_next"],
        "additionalProperties": False,
        "properties": {
            "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}},
            "page": {"type": "integer", "minimum": 1},
            "page_size": {"type": "integer"},
            "has_prev": {"type": "boolean"},
            "has_next": {"type": "boolean", "description": "Ask for page + 1 for more."},
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/alerts": {
        "get": {
            "operationId": "listAlerts",
            "summary": "The caller's alerts inbox",
            "description": (
                "Alerts the caller was notified of, open ones by due time, others newest first. "
                f"Page-based pagination: {queries.PAGE_SIZE} alerts a page, `page` from 1, "
                "`has_next` tells whether another page follows. Audited."
            ),
            "tags": ["alerts"],
            "security": [{"bearer": ["alerts:read"]}],
            "parameters": [STATE.openapi(), PAGE.openapi()],
            "responses": {
                "200": web_api.ok_json("One page of alerts", "AlertPage"),
                "400": web_api.BAD_REQUEST,
            },
        }
    },
    "/alerts/{alert_id}": {
        "get": {
            "operationId": "getAlert",
            "summary": "One alert the caller may handle",
            "description": "For a token: an alert of the caller's inbox. 404 for an unknown "
            "alert and for one the caller may not handle alike (the refusal is audited).",
            "tags": ["alerts"],
            "security": [{"bearer": ["alerts:read"]}],
            "parameters": [web_api.path_id("alert_id")],
            "responses": {
                "200": web_api.ok_json("The alert", "Alert"),
                "404": web_api.NOT_FOUND,
            },
        }
    },
}
