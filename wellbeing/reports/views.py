"""School and district dashboards (server-rendered, SVG charts, no JavaScript)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, current_app, g, render_template, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from ..core.authz import Permission, can
from ..db import get_session, utcnow
from ..orgs.models import School
from ..screening.pages import RESULTS_SUPPRESSION, RESULTS_TALLY
from ..web import require
from . import charts, dashboard_publish, publish, results_tally, services

bp = Blueprint("reports", __name__)


@bp.record_once
def _plug_into_screening_results(state: BlueprintSetupState) -> None:
    """Hand the campaign results page (``screening``, below) its small-cell suppression."""
    state.app.extensions[RESULTS_SUPPRESSION] = publish.publish_results
    state.app.extensions[RESULTS_TALLY] = results_tally.tallied_results


SERIES_NAMES = {
    "concerns": _l("Concerns reported"), "alerts": _l("Alerts raised"), "crises": _l("Crises opened"),
    "hotline": _l("Hotline calls"),
}  # fmt: skip


def _charts(data: dict[str, Any], shown: dashboard_publish.Published) -> list[charts.Chart]:
    """The trends as their viewer may see them: hidden months are gaps, shares of months with
    fewer alerts than the threshold are not drawn."""
    months = data["months"]
    names = {k: str(v) for k, v in SERIES_NAMES.items()}
    shares = [shown.sla_months.get(m) for m in months]
    month = str(_l("Month"))
    return [
        charts.line_chart(
            str(_l("Trends by month")), months, shown.series, names, x_heading=month,
            texts=shown.series_text,
        ),
        charts.bar_chart(
            str(_l("Alerts acknowledged in time, by month")), months, shares, percent=True,
            x_heading=month, value_heading=str(_l("Acknowledged in time")),
        ),
    ]  # fmt: skip


def _published(
    data: dict[str, Any], figures: dict[uuid.UUID, Any], worked: frozenset[str]
) -> dashboard_publish.Published:
    referrals = data.get("referrals") or {}
    return dashboard_publish.publish_dashboard(
        g.principal, figures, months=data["months"], series=data["series"], sla=data["sla"],
        sla_months=data["sla_months"], referral_states=referrals.get("by_state", ()),
        partners=referrals.get("partners", ()), worked=worked,
    )  # fmt: skip


@bp.get("/reports/school")
@require(Permission.STATS_SCHOOL, sensitive=True)
def school() -> ResponseReturnValue:
    session, principal = get_session(), g.principal
    choices = services.dashboard_schools(session, principal)
    wanted = request.args.get("school")
    if wanted:
        try:
            chosen = session.get(School, uuid.UUID(wanted))
        except ValueError:
            abort(404)
        if chosen is None:
            abort(404)
    elif choices:
        chosen = choices[0]
    else:
        abort(404)
    tz = current_app.extensions["wellbeing.settings"].tz
    data = services.school_dashboard(session, principal, chosen, now=utcnow(), tz=tz)
    counts = publish.dashboard_counts(principal, {chosen.id: data["figures"]}, data["by_grade"])
    worked = {"alerts": Permission.ALERTS_HANDLE, "crises": Permission.CRISIS_MANAGE}
    shown = _published(
        data, {chosen.id: data["figures"]},
        frozenset(q for q, p in worked.items() if can(principal, p, chosen)),
    )  # fmt: skip
    return render_template(
        "reports/school.html", choices=choices, charts=_charts(data, shown), now=utcnow(),
        counts=counts, shown=shown, **data,
    )  # fmt: skip


@bp.get("/reports/district")
@require(Permission.STATS_DISTRICT, sensitive=True)
def district() -> ResponseReturnValue:
    tz = current_app.extensions["wellbeing.settings"].tz
    data = services.district_dashboard(get_session(), g.principal, now=utcnow(), tz=tz)
    counts = publish.dashboard_counts(g.principal, data["figures"])
    # the centre works the district's alert queue by name (alerts.district), nothing else here
    escalations = Permission.DISTRICT_ESCALATIONS in g.principal.permissions()
    shown = _published(data, data["figures"], frozenset({"alerts"} if escalations else ()))
    return render_template(
        "reports/district.html", charts=_charts(data, shown), now=utcnow(), counts=counts,
        shown=shown, **data,
    )  # fmt: skip


from .report_views import attach_report_pages  # noqa: E402  (needs bp: the report pages)

attach_report_pages(bp)
from .named_views import bp as named_bp  # noqa: E402  (lists of names with a reason, issue 16)

BLUEPRINTS = (named_bp,)
