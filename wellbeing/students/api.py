"""``/api/v1/students``: look a student up by number, read one student's register fields.

Least data: ids, school code, grade, class label, tier, status. Never a name, a birth date, a
guardian or anything clinical. Both reads are audited like the web's search and student page;
a student the user may not open answers exactly like an unknown one (empty list, 404).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue

from .. import web_api
from ..core.authz import Forbidden, Permission
from ..db import get_session
from ..orgs.services import CODE_RE
from ..web import require
from . import queries, reading, services
from .models import Student

bp = Blueprint("students_api", __name__, url_prefix="/api/v1")

# A student number as the lookup takes it (queries.query_kinds: up to 32 letters, digits, "-"
# or "_", at least one digit); spaces around it are ignored. Anything else is refused with 400
# before the lookup, so every value the document allows is looked up.
NUMBER = web_api.QueryParam(
    "number",
    "The student number (学号): up to 32 letters, digits, - or _, with at least one digit "
    "(spaces around it are ignored).",
    {"type": "string", "minLength": 1, "maxLength": 32,
     "pattern": "^ *[A-Za-z0-9_-]*[0-9][A-Za-z0-9_-]* *$"},
    required=True,
    rule="a student number: up to 32 letters, digits, - or _, with at least one digit",
)  # fmt: skip
SCHOOL = web_api.QueryParam(
    "school",
    "Only this school (its code).",
    {"type": "string", "pattern": CODE_RE.pattern},
    rule="a school code: 1 to 32 letters, digits, - or _",
)


def _payload(students: list[Student]) -> list[dict[str, Any]]:
    session = get_session()
    classes = queries.classes_by_id(session, {s.class_id for s in students if s.class_id})
    codes = queries.school_codes(session, {s.school_id for s in students})
    out = []
    for s in students:
        klass = classes.get(s.class_id) if s.class_id else None
        out.append(
            {
                "id": str(s.id), "school_code": codes.get(s.school_id, ""), "grade": s.grade,
                "class_label": klass.label if klass else None, "tier": s.tier,
                "tier_provisional": s.tier_provisional, "status": s.status,
            }
        )  # fmt: skip
    return out


@bp.get("/students")
@require(Permission.STUDENTS_SEARCH, sensitive=True)
def search() -> ResponseReturnValue:
    try:
        number, school = NUMBER.read(), SCHOOL.read()
    except web_api.BadQuery as exc:
        return web_api.bad_query(exc)
    try:
        found = reading.lookup_by_number(get_session(), g.principal, number, school_code=school)
    except services.StudentError:  # unreachable while NUMBER matches query_kinds (tested)
        return web_api.bad_query(web_api.BadQuery("number", f"number must be {NUMBER.describe()}."))
    return jsonify({"students": _payload(found.students), "truncated": found.truncated})


@bp.get("/students/<uuid:student_id>")
@require(Permission.RECORD_READ, sensitive=True)
def detail(student_id: uuid.UUID) -> ResponseReturnValue:
    try:
        student = reading.read_summary(get_session(), g.principal, student_id)
    except Forbidden as exc:
        return web_api.not_visible(exc, "No such student.")
    if student is None:
        return web_api.not_found("No such student.")
    return jsonify(_payload([student])[0])


OPENAPI_SCHEMAS: dict[str, Any] = {
    "Student": {
        "type": "object",
        "description": "A student's register fields: never a name or clinical content.",
        "required": [
            "id",
            "school_code",
            "grade",
            "class_label",
            "tier",
            "tier_provisional",
            "status",
        ],
        "additionalProperties": False,
        "properties": {
            "id": web_api.UUID,
            "school_code": {"type": "string"},
            "grade": {"type": "integer", "minimum": 1, "maximum": 12},
            "class_label": {"type": ["string", "null"]},
            "tier": {
                "type": "integer",
                "minimum": 0,
                "maximum": 3,
                "description": "0 green, 1 yellow, 2 orange, 3 red.",
            },
            "tier_provisional": {
                "type": "boolean",
                "description": "Set by screening, not yet confirmed by a person.",
            },
            "status": {"type": "string", "examples": ["active", "transferred", "graduated"]},
        },
    },
    "StudentList": {
        "type": "object",
        "required": ["students", "truncated"],
        "additionalProperties": False,
        "properties": {
            "students": {"type": "array", "items": {"$ref": "#/components/schemas/Student"}},
            "truncated": {
                "type": "boolean",
                "description": f"More than {reading.SEARCH_LIMIT} matches.",
            },
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/students": {
        "get": {
            "operationId": "lookupStudents",
            "summary": "Look up students by student number (exact match)",
            "description": (
                "The students with this number in the schools whose students the user may "
                "search and may open (the web search's rules). An unknown number, another "
                "school's student and a student outside the user's scope all give the same "
                f"empty list. Not paginated: at most {reading.SEARCH_LIMIT} students (one per "
                "school at most in practice). Every lookup is audited."
            ),
            "tags": ["students"],
            "security": [{"bearer": ["students:read"]}],
            "parameters": [NUMBER.openapi(), SCHOOL.openapi()],
            "responses": {
                "200": web_api.ok_json("The matching students", "StudentList"),
                "400": web_api.BAD_REQUEST,
            },
        }
    },
    "/students/{student_id}": {
        "get": {
            "operationId": "getStudent",
            "summary": "One student's register fields",
            "description": "Audited. 404 for an unknown student and for one outside the user's "
            "scope alike (the refusal is audited).",
            "tags": ["students"],
            "security": [{"bearer": ["students:read"]}],
            "parameters": [web_api.path_id("student_id")],
            "responses": {
                "200": web_api.ok_json("The student", "Student"),
                "404": web_api.NOT_FOUND,
            },
        }
    },
}
