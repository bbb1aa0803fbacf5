"""The referral's documents: the printable referral letter (转介单, A4, zh_CN or English) and
the FHIR R4 download (:mod:`.fhir`). Both carry the minimum dataset only
(:func:`.minimum.dataset`, the same dict the partner's portal shows) and are for the sender and
the centre (the partner prints and downloads from the portal). Audited as
``case:referral:print`` / ``case:referral:export`` naming the dataset's keys; both are
``download=True`` (refused under break-glass: a print is an export on paper).

The routes are on the referral pages' blueprint, added by :func:`register`."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..config import Settings
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal
from ..core.errors import NotFound
from ..crisis.forms import RELATION_LABELS
from ..db import get_session, utcnow
from ..screening.clock import local_today
from ..web import require
from . import fhir
from .minimum import DATASET_KEYS, dataset
from .models import URGENCY_LABELS, Actor, HealthPartner, Referral
from .record import band_name, scale_name
from .transitions import actors_of

LOCALES = ("zh_CN", "en")


def readable(session: Session, principal: Principal, referral_id: uuid.UUID) -> Referral:
    """The referral for its sender or the centre; 404 for anyone else (the partner uses the
    portal's own print and download)."""
    referral = session.get(Referral, referral_id)
    if referral is None or not actors_of(principal, referral, utcnow()) & {
        Actor.SENDER, Actor.CENTRE
    }:  # fmt: skip
        raise NotFound(_l("There is no such referral."))
    return referral


def audit_document(session: Session, referral: Referral, action: AuditAction, what: str) -> None:
    audit.record(
        session, action, object_type="referral", object_id=referral.id,
        student_id=referral.student_id, school_id=referral.school_id,
        fields=list(DATASET_KEYS), detail={"document": what, "students": [referral.student_id]},
    )  # fmt: skip


def partner_name(session: Session, referral: Referral) -> str | None:
    partner = session.get(HealthPartner, referral.partner_id) if referral.partner_id else None
    return partner.name if partner is not None else None


def letter_page(referral_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    referral = readable(session, g.principal, referral_id)
    data = dataset(referral, session)
    audit_document(session, referral, AuditAction.REFERRAL_PRINT, "letter")
    locale = request.args.get("lang")
    context: dict[str, Any] = {
        "referral": referral, "data": data, "partner": partner_name(session, referral),
        "urgencies": URGENCY_LABELS, "relations": dict(RELATION_LABELS),
        "today": local_today(), "number": referral.id.hex[:8].upper(), "locales": LOCALES,
        "scale_name": scale_name, "band_name": band_name,
    }  # fmt: skip
    if locale in LOCALES:
        with force_locale(locale):
            return render_template("referrals/letter.html", lang=locale, **context)
    return render_template("referrals/letter.html", lang=None, **context)


def fhir_download(referral_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    referral = readable(session, g.principal, referral_id)
    data = dataset(referral, session)
    settings: Settings = current_app.extensions["wellbeing.settings"]
    document = fhir.bundle(session, referral, data, settings.base_url,
                           partner_name(session, referral))  # fmt: skip
    audit_document(session, referral, AuditAction.REFERRAL_EXPORT, "fhir")
    name = f"referral-{referral.id.hex[:8]}-{dt.date.today():%Y%m%d}.fhir.json"
    return Response(
        json.dumps(document, ensure_ascii=False, indent=1),
        mimetype="application/fhir+json",
        headers={"Content-Disposition": f'attachment; filename="{name}"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip


def register(bp: Blueprint) -> None:
    bp.add_url_rule(
        "/referrals/<uuid:referral_id>/letter", "letter",
        require(Permission.REFERRALS_READ, sensitive=True, download=True)(letter_page),
    )  # fmt: skip
    bp.add_url_rule(
        "/referrals/<uuid:referral_id>/fhir", "fhir",
        require(Permission.REFERRALS_READ, sensitive=True, download=True)(fhir_download),
    )  # fmt: skip
