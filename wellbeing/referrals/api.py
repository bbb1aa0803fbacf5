"""``/api/v1``: referrals for hospital systems (partner-scoped tokens) and the school's reads.

Partner liaisons (token scope ``partner:referrals``, ``PARTNER_REFERRALS``): their queue, one
referral (the minimum dataset only, :mod:`.minimum`), and the moves acknowledge, decline,
appointment, attendance and feedback, through the same services as the portal. A referral of
another organisation answers exactly like an unknown id (404, the refusal audited); one sent to
the caller's organisation and since withdrawn (or cancelled: consent withdrawn), declined or
past its access answers ``access`` with the reason and ``referral: null``. An illegal move is
409 (``illegal_transition``), a stale one 409 (``referral_conflict``), refused input 422.

The school (scope ``referrals:read``, ``REFERRALS_READ``: psychology teachers and leaders of the
school, district counsellors once involved): a student's referrals with their states, times and
the partner's feedback. Every answer with a child's data is audited (``REFERRAL_VIEW``).
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from sqlalchemy import select

from .. import web_api
from ..auth.tokens import register_scope
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission, ensure
from ..core.errors import DomainError, NotFound
from ..db import get_session, utcnow
from ..students.models import Student
from ..web import accepts_body, api_error, require
from . import minimum, partner_moves, portal_data, queries
from .api_schemas import OPENAPI_PATHS as OPENAPI_PATHS
from .api_schemas import OPENAPI_SCHEMAS as OPENAPI_SCHEMAS
from .models import FEEDBACK_FIELDS, HealthPartner, Referral

bp = Blueprint("referrals_api", __name__, url_prefix="/api/v1")
BODY_LIMIT = 64 * 1024

register_scope("partner:referrals",
               _l("Referrals addressed to your organisation: read them and respond"),
               Permission.PARTNER_REFERRALS)  # fmt: skip
register_scope("referrals:read", _l("Read your students' referrals"), Permission.REFERRALS_READ)


NO_SUCH = "No such referral."


def _not_visible(referral: Referral | None) -> ResponseReturnValue:
    if referral is None:
        return web_api.not_found(NO_SUCH)
    return web_api.not_visible(Forbidden(Permission.PARTNER_REFERRALS, referral), NO_SUCH)


# --------------------------------------------------------------------------- partner reads


@bp.get("/partner/referrals")
@require(Permission.PARTNER_REFERRALS, sensitive=True)
def partner_queue() -> ResponseReturnValue:
    session, now = get_session(), utcnow()
    groups = portal_data.liaison_queue(session, g.principal, now)
    items = []
    for group in groups:
        for referral in group.referrals:
            data = minimum.dataset(referral, session)
            items.append({
                "id": str(referral.id), "reference": portal_data.reference(referral.id),
                "state": str(referral.state), "waiting_for": group.key,
                "urgency": referral.urgency, "due_at": web_api.iso(referral.due_at),
                "name": data["name"], "age": data["age"], "school": data["school"],
                "grade": data["grade"],
            })  # fmt: skip
    audit.record(
        session, AuditAction.REFERRAL_VIEW, object_type="referral",
        fields=["name", "age", "school", "grade", "urgency"] if items else [],
        detail={"view": "partner_queue", "via": "api", "count": len(items),
                "students": sorted({str(r.student_id) for gr in groups for r in gr.referrals})},
    )  # fmt: skip
    withdrawn = [
        {"id": str(rid), "reference": portal_data.reference(rid), "access": "withdrawn"}
        for rid, _state in queries.partner_withdrawn(session, g.principal)
    ]
    return jsonify({"referrals": items, "withdrawn": withdrawn})


@bp.get("/partner/referrals/<uuid:referral_id>")
@require(Permission.PARTNER_REFERRALS, sensitive=True)
def partner_referral(referral_id: uuid.UUID) -> ResponseReturnValue:
    session, now = get_session(), utcnow()
    referral = session.get(Referral, referral_id)
    access = portal_data.access_of(session, g.principal, referral, now)
    if referral is None or access is None:
        return _not_visible(referral)
    if access != "open":
        audit.record(
            session, AuditAction.REFERRAL_VIEW, object_type="referral", object_id=referral.id,
            fields=[], detail={"view": "partner_ended", "access": access, "via": "api"},
        )  # fmt: skip
        return jsonify({"id": str(referral.id), "reference": portal_data.reference(referral.id),
                        "access": access, "referral": None})  # fmt: skip
    return jsonify(_document(referral, access))


def _document(referral: Referral, access: str = "open") -> dict[str, Any]:
    session = get_session()
    referral, data = minimum.partner_view(session, g.principal, referral.id)
    appointments = queries.appointments_of(session, referral.id)
    feedback = queries.feedback_of(session, referral.id)
    if appointments or feedback is not None:
        audit.record(
            session, AuditAction.REFERRAL_VIEW, object_type="referral", object_id=referral.id,
            student_id=referral.student_id, school_id=referral.school_id,
            fields=["appointments.note", "feedback"], detail={"view": "partner_own", "via": "api"},
        )  # fmt: skip
    return {"id": str(referral.id), "reference": portal_data.reference(referral.id),
            "access": access,
            "referral": portal_data.partner_document(referral, data, appointments, feedback)}  # fmt: skip


# --------------------------------------------------------------------------- partner moves


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    document = {"components": {"schemas": OPENAPI_SCHEMAS}}
    registry = Registry().with_resource("urn:wellbeing:referrals", Resource.opaque(document))
    return Draft202012Validator({"$ref": f"urn:wellbeing:referrals#/components/schemas/{name}"},
                                registry=registry, format_checker=FormatChecker())  # fmt: skip


def _body(schema: str | None) -> tuple[dict[str, Any] | None, ResponseReturnValue | None]:
    """The JSON body checked against the document's schema, or the 415/400 answer."""
    if schema is None:
        return {}, None
    if not request.is_json:
        return None, api_error(415, "unsupported_media_type", "Send the body as application/json.")
    body: Any = request.get_json(silent=True)
    problems = [
        {"location": "body", "field": ".".join(str(p) for p in e.absolute_path),
         "message": e.message[:200]}
        for e in _validator(schema).iter_errors(body)
    ]  # fmt: skip
    if not problems and schema == "PartnerAppointment" and _parse_time(str(body["at"])) is None:
        problems = [{"location": "body", "field": "at",
                     "message": "at must be an ISO-8601 date and time with a time zone."}]  # fmt: skip
    if problems:
        return None, api_error(400, "bad_request", "The body is not the JSON described.", problems)
    return body, None


def _parse_time(value: str) -> dt.datetime | None:
    """An RFC 3339 date-time (``2026-03-01T09:30:00+08:00``) in UTC; None when it is not one."""
    try:
        when = dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(dt.UTC) if when.tzinfo is not None else None


def _time(value: str) -> dt.datetime:
    when = _parse_time(value)
    if when is None:  # pragma: no cover - checked with the body
        raise partner_moves.ReferralError(_l("Give the date and time of an appointment to come."))
    return when


def _move(referral_id: uuid.UUID, schema: str | None, call: Any) -> ResponseReturnValue:
    session = get_session()
    body, refused = _body(schema)
    if refused is not None:
        return refused
    try:
        call(session, body)
    except NotFound:
        return _not_visible(session.get(Referral, referral_id))
    except Forbidden as exc:
        return web_api.not_visible(exc, NO_SUCH)
    except DomainError as exc:
        return web_api.domain_error(exc)
    referral = session.get(Referral, referral_id)
    if referral is None:  # pragma: no cover - it was just moved
        return web_api.not_found(NO_SUCH)
    told = portal_data.told_counts(session, referral, g.principal.user_id)
    return jsonify({"id": str(referral.id), "state": str(referral.state), "told": told})


@bp.post("/partner/referrals/<uuid:referral_id>/acknowledge")
@require(Permission.PARTNER_REFERRALS)
def acknowledge(referral_id: uuid.UUID) -> ResponseReturnValue:
    return _move(referral_id, None, lambda s, b: partner_moves.acknowledge(s, g.principal, referral_id))  # fmt: skip


@bp.post("/partner/referrals/<uuid:referral_id>/decline")
@require(Permission.PARTNER_REFERRALS)
@accepts_body(BODY_LIMIT)
def decline(referral_id: uuid.UUID) -> ResponseReturnValue:
    return _move(referral_id, "PartnerDecline",
                 lambda s, b: partner_moves.decline(s, g.principal, referral_id, b["reason"]))  # fmt: skip


@bp.post("/partner/referrals/<uuid:referral_id>/appointment")
@require(Permission.PARTNER_REFERRALS)
@accepts_body(BODY_LIMIT)
def appointment(referral_id: uuid.UUID) -> ResponseReturnValue:
    return _move(referral_id, "PartnerAppointment", lambda s, b: partner_moves.schedule(
        s, g.principal, referral_id, _time(b["at"]), note=b.get("note")))  # fmt: skip


@bp.post("/partner/referrals/<uuid:referral_id>/attendance")
@require(Permission.PARTNER_REFERRALS)
@accepts_body(BODY_LIMIT)
def attendance(referral_id: uuid.UUID) -> ResponseReturnValue:
    return _move(referral_id, "PartnerAttendance", lambda s, b: partner_moves.record_attendance(
        s, g.principal, referral_id, b["attended"]))  # fmt: skip


@bp.post("/partner/referrals/<uuid:referral_id>/feedback")
@require(Permission.PARTNER_REFERRALS)
@accepts_body(BODY_LIMIT)
def feedback(referral_id: uuid.UUID) -> ResponseReturnValue:
    def call(session: Any, body: dict[str, Any]) -> None:
        data = partner_moves.FeedbackInput(
            **{name: body.get(name) or "" for name in FEEDBACK_FIELDS},
            advises_return=bool(body.get("advises_return", False)),
        )
        partner_moves.record_feedback(session, g.principal, referral_id, data)

    return _move(referral_id, "PartnerFeedback", call)


# --------------------------------------------------------------------------- the school's reads


@bp.get("/students/<uuid:student_id>/referrals")
@require(Permission.REFERRALS_READ, sensitive=True)
def student_referrals(student_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    student = session.get(Student, student_id)
    if student is None:
        return web_api.not_found("No such student.")
    try:
        ensure(g.principal, Permission.REFERRALS_READ, student)
    except Forbidden as exc:
        return web_api.not_visible(exc, "No such student.")
    found = queries.student_referrals(session, student.id)
    partners = dict(session.execute(
        select(HealthPartner.id, HealthPartner.name)
        .where(HealthPartner.id.in_({r.partner_id for r in found if r.partner_id}))
    ).tuples().all())  # fmt: skip
    items = []
    for r in found:
        fb = queries.feedback_of(session, r.id)
        items.append({
            "id": str(r.id), "state": str(r.state), "urgency": r.urgency, "direct": r.direct,
            "partner": partners.get(r.partner_id) if r.partner_id else None,
            "created_at": web_api.iso(r.created_at), "submitted_at": web_api.iso(r.submitted_at),
            "sent_at": web_api.iso(r.sent_at), "acknowledged_at": web_api.iso(r.acknowledged_at),
            "appointment_at": web_api.iso(r.appointment_at),
            "feedback_at": web_api.iso(r.feedback_at), "closed_at": web_api.iso(r.closed_at),
            "outcome": r.outcome, "consent_override": r.override_at is not None,
            "feedback": None if fb is None else
            {name: getattr(fb, name) for name in FEEDBACK_FIELDS} | {"advises_return": fb.advises_return},
        })  # fmt: skip
    audit.record(
        session, AuditAction.REFERRAL_VIEW, object_type="referral", student_id=student.id,
        school_id=student.school_id, fields=["state", "partner", "feedback"] if items else [],
        detail={"view": "student_referrals", "via": "api", "count": len(items)},
    )  # fmt: skip
    return jsonify({"student_id": str(student.id), "referrals": items})
