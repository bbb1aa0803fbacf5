"""``/api/v1/followups``: the token owner's agenda, read-only.

The same rows as the web agenda (overdue, due today, due in the next 7 local days). Least
data: id, school code, due time, state, source; never a name, an outcome or a note.
``student_id`` is given only where the web agenda shows the student's name, i.e. when the
caller may open that student's record (for a token: it also carries ``students:read``).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, current_app, g, jsonify
from flask.typing import ResponseReturnValue

from .. import web_api
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, can
from ..db import get_session, utcnow
from ..students.queries import school_codes
from ..web import require
from . import queries
from .models import ACTIVE_STATES, OVERDUE, SOURCES

bp = Blueprint("followups_api", __name__, url_prefix="/api/v1")

AGENDA_LIMIT = 500
STATE_FILTERS = ("active", *ACTIVE_STATES)
STATE = web_api.choice_param(
    "state", "active (open and overdue, the default), open or overdue.", STATE_FILTERS, "active"
)


def _rows(state: str) -> tuple[list[queries.AgendaRow], bool]:
    tz = current_app.extensions["wellbeing.settings"].tz
    data = queries.agenda(get_session(), g.principal.user_id, utcnow(), tz, AGENDA_LIMIT + 1)
    rows = sorted(data.overdue + data.today + data.week, key=lambda r: (r.followup.due_at, str(r.followup.id)))  # fmt: skip
    truncated = len(rows) > AGENDA_LIMIT
    rows = rows[:AGENDA_LIMIT]
    if state != "active":
        rows = [r for r in rows if (r.followup.state == OVERDUE) == (state == OVERDUE)]
    return rows, truncated


@bp.get("/followups")
@require(Permission.SELF_AGENDA, sensitive=True)
def agenda() -> ResponseReturnValue:
    try:
        state = STATE.read()
    except web_api.BadQuery as exc:
        return web_api.bad_query(exc)
    rows, truncated = _rows(state)
    shown: set[uuid.UUID] = {
        r.student.id for r in rows if can(g.principal, Permission.RECORD_READ, r.student)
    }
    audit.record(
        get_session(), AuditAction.FOLLOWUP_VIEW, object_type="followup",
        fields=["student_id"] if shown else [],
        detail={"students": sorted(shown, key=str), "count": len(rows)},
    )  # fmt: skip
    codes = school_codes(get_session(), {r.followup.school_id for r in rows})
    items = [
        {
            "id": str(f.id), "student_id": str(f.student_id) if f.student_id in shown else None,
            "school_code": codes.get(f.school_id, ""), "due_at": web_api.iso(f.due_at),
            "state": f.state, "source": f.source,
        }
        for f in (r.followup for r in rows)
    ]  # fmt: skip
    return jsonify({"followups": items, "truncated": truncated})


OPENAPI_SCHEMAS: dict[str, Any] = {
    "FollowUp": {
        "type": "object",
        "description": "A follow-up on the caller's agenda: never a name, an outcome or a note.",
        "required": ["id", "student_id", "school_code", "due_at", "state", "source"],
        "additionalProperties": False,
        "properties": {
            "id": web_api.UUID,
            "student_id": web_api.NULLABLE_UUID
            | {
                "description": "Only when the caller may open the student's record (a token "
                "needs students:read too)."
            },
            "school_code": {"type": "string"},
            "due_at": web_api.DATE_TIME,
            "state": {"type": "string", "enum": [s.value for s in ACTIVE_STATES]},
            "source": {"type": "string", "enum": list(SOURCES)},
        },
    },
    "FollowUpList": {
        "type": "object",
        "required": ["followups", "truncated"],
        "additionalProperties": False,
        "properties": {
            "followups": {"type": "array", "items": {"$ref": "#/components/schemas/FollowUp"}},
            "truncated": {
                "type": "boolean",
                "description": f"The agenda has more than {AGENDA_LIMIT} follow-ups.",
            },
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/followups": {
        "get": {
            "operationId": "listFollowUps",
            "summary": "The caller's agenda: follow-ups overdue or due within 7 days",
            "description": (
                "The caller's open and overdue follow-ups that are overdue, due today or due "
                "in the next 7 days (local calendar), by due time. Not paginated: the agenda "
                f"window bounds the list (at most {AGENDA_LIMIT}; `truncated` says when more "
                "exist). Audited."
            ),
            "tags": ["followups"],
            "security": [{"bearer": ["followups:read"]}],
            "parameters": [STATE.openapi()],
            "responses": {
                "200": web_api.ok_json("The agenda", "FollowUpList"),
                "400": web_api.BAD_REQUEST,
            },
        }
    },
}
