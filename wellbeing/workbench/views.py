"""The home page (``/``: the workbench of the signed-in person), the caseload and the class
list."""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, g, render_template, request
from flask.typing import ResponseReturnValue

from ..core.authz import Permission
from ..db import get_session, utcnow
from ..web import require
from . import case_panels as case_panels  # registers the plans' and referrals' panels
from . import caseload as caseloads
from . import partner as partner  # registers the liaison's panels (LATER_PANELS)
from . import services

bp = Blueprint("workbench", __name__)


@bp.get("/")
@require(Permission.SELF_SESSION)
def home() -> ResponseReturnValue:
    settings = current_app.extensions["wellbeing.settings"]
    today = services.Today(utcnow(), settings.tz)
    panels = services.workbench(get_session(), g.principal, today)
    return render_template("workbench/home.html", panels=panels, now=today.now)


def _int(name: str, allowed: range) -> int | None:
    value = request.args.get(name, type=int)
    return value if value is not None and value in allowed else None


def _uuid(name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.args.get(name, ""))
    except ValueError:
        return None


@bp.get("/caseload")
@require(Permission.TIER_DECIDE, sensitive=True)
def caseload() -> ResponseReturnValue:
    sort = request.args.get("sort", "name")
    filters = caseloads.CaseloadFilter(
        grade=_int("grade", range(1, 13)), class_id=_uuid("class"), tier=_int("tier", range(0, 4)),
        sort=sort if sort in caseloads.SORTS else "name",
    )  # fmt: skip
    result = caseloads.caseload(get_session(), g.principal, filters)
    return render_template(
        "workbench/caseload.html", result=result, filters=filters, now_utc=utcnow()
    )


@bp.get("/my-class")
@require(Permission.CONCERN_REPORT, sensitive=True)
def class_list() -> ResponseReturnValue:
    lists = caseloads.class_lists(get_session(), g.principal)
    return render_template("workbench/class_list.html", lists=lists)
