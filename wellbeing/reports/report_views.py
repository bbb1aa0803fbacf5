"""The report pages (issue 16 items 1, 3-5): the index, one page per report with its filters,
charts and data tables, its CSV and XLSX downloads and its printable view.

Routes on the dashboards' blueprint (``reports``): ``reports.views`` calls
:func:`attach_report_pages` with it (this module does not import ``views``). Thin: the
services resolve the filters against what the viewer may see, build, suppress and audit
(``report_services``); the files are written by ``exports``; the charts by ``charts``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, current_app, g, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..core import audit
from ..core.authz import Forbidden, Permission
from ..db import get_db, get_session, utcnow
from ..orgs.labels import grade_label
from ..screening.models import Campaign
from ..web import require
from . import catalog, charts, exports
from . import report_services as services
from .catalog import ReportSpec
from .ledger import ReleaseRefused
from .report_forms import ReportFilterForm

F = TypeVar("F", bound=Callable[..., Any])


def stats_view(*, sensitive: bool = False, download: bool = False) -> Callable[[F], F]:
    """Signed in (``require``), and holding ``STATS_SCHOOL`` or ``STATS_DISTRICT`` (school staff
    see their school, district staff the district): an audited 403 otherwise."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if not services.may_open(g.principal):
                raise Forbidden(Permission.STATS_SCHOOL)
            return view(*args, **kwargs)

        wrapped = require(Permission.SELF_SESSION, sensitive=sensitive, download=download)(checked)
        wrapped.__dict__["permissions"] = services.STATS  # read by people, not by the policy
        return cast(F, wrapped)

    return decorate


def _settings() -> Any:
    return current_app.extensions["wellbeing.settings"]


def _prepare(key: str) -> tuple[ReportSpec, ReportFilterForm, services.Choices]:
    session = get_session()
    spec = services.spec_for(g.principal, key)
    choices = services.filter_choices(session, g.principal)
    form = ReportFilterForm(request.args)
    services.fill_form(form, choices)
    return spec, form, choices


def _filters(spec: ReportSpec, form: ReportFilterForm, choices: services.Choices) -> Any:
    return services.resolve_filters(
        get_session(), g.principal, spec, form, choices, tz=_settings().tz, now=utcnow()
    )


def _invalid(spec: ReportSpec, form: ReportFilterForm) -> ResponseReturnValue:
    """The page with the filters and what is wrong beside each field; nothing built."""
    body = render_template("reports/report.html", spec=spec, form=form, shown=None, charts=[],
                           summary=[], query="")  # fmt: skip
    return body, 400


def summary(shown: services.ShownReport) -> list[str]:
    """The filters in words, for the page, the print and the XLSX."""
    f, spec = shown.filters, shown.spec
    if f.district:
        where = _("All schools of the district (%(n)s)", n=len(shown.schools))
    else:
        where = "、".join(s.name for s in shown.schools) or _("No school")
    out = [_("Schools: %(where)s", where=where)]
    if "grade" in spec.filters:
        out.append(
            _("Grade: %(grade)s", grade=grade_label(f.grade) if f.grade else _("All grades"))
        )
    if "period" in spec.filters:
        out.append(_("Period: %(start)s to %(end)s", start=f.start.isoformat(),
                     end=f.end.isoformat()))  # fmt: skip
    if "campaign" in spec.filters and f.campaign_id:
        campaign = get_session().get(Campaign, f.campaign_id)
        out.append(_("Campaign: %(name)s", name=campaign.name if campaign else ""))
    return out


def _query() -> str:
    return request.query_string.decode("utf-8", "replace")


@stats_view()
def report_index() -> ResponseReturnValue:
    specs = [s for s in catalog.specs().values() if services.may_open(g.principal, s)]
    return render_template("reports/index.html", specs=specs)


@stats_view(sensitive=True)
def report_page(key: str) -> ResponseReturnValue:
    spec, form, choices = _prepare(key)
    if not form.validate():
        return _invalid(spec, form)
    filters = _filters(spec, form, choices)
    form.start.data, form.end.data = filters.start, filters.end  # the period shown, in words
    shown = services.view_report(get_session(), g.principal, spec, filters)
    named, args = shown.page.named, cast(dict[str, Any], request.args.to_dict())
    named_url = (
        url_for(named.export_endpoint, **args)
        if named and named.export_endpoint in current_app.view_functions
        else None
    )
    return render_template(
        "reports/report.html", spec=spec, form=form, shown=shown, summary=summary(shown),
        named_url=named_url,
        charts=[charts.table_chart(t) for t in shown.tables],
        heads=[exports.head(t) for t in shown.tables], query=_query(),
    )  # fmt: skip


def _release(
    key: str, kind: str, fmt: str, tables: list[str] | None = None, first: bool = False
) -> Any:
    """The report released (ledger, audit) or a 409 page saying why not (audited as refused)."""
    spec, form, choices = _prepare(key)
    if not form.validate():
        return spec, _invalid(spec, form)
    filters = _filters(spec, form, choices)
    try:
        shown = services.release_report(
            get_session(),
            g.principal,
            spec,
            filters,
            kind=kind,
            table_keys=tables,
            fmt=fmt,
            first=first,
        )
    except ReleaseRefused:
        audit.record_now(get_db(), **services.refused(g.principal, spec, filters, kind, fmt))
        raise
    return spec, shown


def _download(data: bytes, mimetype: str, title: str, key: str, suffix: str) -> Response:
    today = utcnow().astimezone(_settings().tz).date()
    name = exports.filename(title, today, suffix)
    fallback = exports.filename(key, today, suffix)
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = exports.content_disposition(name, fallback)
    return response


@stats_view(download=True)
def report_csv(key: str) -> ResponseReturnValue:
    """One table (``?table=<key>``, the first by default) as CSV: text/csv attachment."""
    wanted = request.args.get("table")
    spec, shown = _release(key, "export", "csv", [wanted] if wanted else None, first=not wanted)
    if not isinstance(shown, services.ShownReport):
        return cast(ResponseReturnValue, shown)
    if not shown.tables:
        return render_template("errors/error.html", status=404,
                               message=_("This report has no such table.")), 404  # fmt: skip
    table = shown.tables[0]
    title = str(spec.title) if len(shown.page.tables) == 1 else f"{spec.title}-{table.table.title}"
    return _download(exports.to_csv(table), "text/csv", title, key, "csv")


@stats_view(download=True)
def report_xlsx(key: str) -> ResponseReturnValue:
    """Every table of the report, one sheet each."""
    spec, shown = _release(key, "export", "xlsx")
    if not isinstance(shown, services.ShownReport):
        return cast(ResponseReturnValue, shown)
    note = _suppression_note(shown)
    data = exports.to_xlsx(shown, summary(shown), note)
    mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _download(data, mimetype, str(spec.title), key, "xlsx")


def _suppression_note(shown: services.ShownReport) -> str:
    if not shown.threshold:
        return ""
    text = _("“<%(n)s” means a count below %(n)s: the exact number is not shown, so that no "
             "child can be recognised.", n=shown.threshold)  # fmt: skip
    if shown.hidden:
        text += " " + _("“*” marks a number hidden as well, so that a number below %(n)s cannot "
                        "be worked out from the totals.", n=shown.threshold)  # fmt: skip
    return text


@stats_view(download=True)
def report_print(key: str) -> ResponseReturnValue:
    """The printable report (A4): recorded in the release ledger like an export."""
    spec, shown = _release(key, "print", "print")
    if not isinstance(shown, services.ShownReport):
        return cast(ResponseReturnValue, shown)
    return render_template(
        "reports/print.html", spec=spec, shown=shown, summary=summary(shown),
        charts=[charts.table_chart(t) for t in shown.tables],
        heads=[exports.head(t) for t in shown.tables], query=_query(),
        printed_at=utcnow(),
    )  # fmt: skip


ROUTES = (
    ("/reports/", report_index),
    ("/reports/<key>", report_page),
    ("/reports/<key>.csv", report_csv),
    ("/reports/<key>.xlsx", report_xlsx),
    ("/reports/<key>/print", report_print),
)


def attach_report_pages(bp: Blueprint) -> None:
    """Add the report pages to the dashboards' blueprint (endpoints ``reports.<view>``)."""
    for rule, view in ROUTES:
        bp.add_url_rule(rule, view_func=view, methods=["GET"])
