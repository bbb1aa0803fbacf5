"""Screening pages: campaigns, progress, results (counts), upload, one student's form, the
review queue of provisional decisions, a student's history and its FHIR export."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..core.authz import Permission
from ..core.forms import SelectChoice
from ..core.tabular import TabularError
from ..db import get_session
from ..risk.services import TierError
from ..students.models import Student
from ..web import accepts_upload, flash_error, get_settings, require
from . import history as history_service
from . import queries, services
from . import review as review_service
from .blueprint import bp
from .charts import Series, trend_chart
from .clock import local_today
from .engine.instruments import builtin_instruments
from .errors import IntakeError, ScreeningError
from .forms import (
    CampaignForm,
    ConfirmForm,
    EntryForm,
    ImportForm,
    MappingForm,
    ReviewForm,
    answers_from_form,
    field_name,
    given,
    parse_mapping,
)
from .intake.importer import import_file
from .intake.messages import instrument_names, translate_message
from .links import event_items_of_responses
from .pages import (
    campaign_for,
    pick_school,
    questionnaire,
    results_suppression,
    results_tally,
    school_choices,
)


@bp.app_template_filter("instrument_names")
def _instrument_names(codes: str | list[str]) -> str:
    """Instrument codes → their names (from the YAML) in the user's language."""
    return instrument_names(codes if isinstance(codes, str) else ",".join(codes))


# --------------------------------------------------------------------------- campaigns


@bp.get("/screening/")
@require(Permission.STATS_SCREENING)
def index() -> ResponseReturnValue:
    campaigns = services.campaigns_for(get_session(), g.principal, Permission.STATS_SCREENING)
    return render_template("screening/index.html", campaigns=campaigns, today=local_today())


@bp.route("/screening/campaigns/new", methods=["GET", "POST"])
@require(Permission.SCREENING_MANAGE)
def new_campaign() -> ResponseReturnValue:
    db = get_session()
    district_wide = services.runs_district_campaigns(g.principal)
    schools = services.manageable_schools(db, g.principal)
    form = CampaignForm()
    form.instruments.choices = [
        (c, i.name.get(str(get_locale()))) for c, i in sorted(builtin_instruments().items())
    ]
    form.school.choices = (
        [SelectChoice("all", _("All schools of the district"))] if district_wide else []
    ) + school_choices(schools)
    if request.method == "GET":
        return render_template("screening/campaign_form.html", form=form)
    if not form.validate_on_submit():
        return render_template("screening/campaign_form.html", form=form), 400
    chosen = schools if form.school.data == "all" else [pick_school(schools, form.school.data)]
    try:
        campaign = services.create_campaign(
            db,
            g.principal,
            schools=chosen,
            district_wide=form.school.data == "all",
            **form.fields(),
        )
    except ScreeningError as exc:
        flash_error(exc)
        return render_template("screening/campaign_form.html", form=form), 400
    flash(_("Campaign created."), "success")
    return redirect(url_for("screening.campaign", campaign_id=campaign.id))


@bp.get("/screening/campaigns/<uuid:campaign_id>")
@require(Permission.SCREENING_MANAGE)
def campaign(campaign_id: uuid.UUID) -> ResponseReturnValue:
    campaign, schools = campaign_for(campaign_id, Permission.SCREENING_MANAGE)
    rows = queries.progress(get_session(), campaign, [s.id for s in schools])
    totals = {
        k: sum(getattr(r, k) for r in rows) for k in ("eligible", "screened", "voided", "missing")
    }
    return render_template("screening/campaign.html", campaign=campaign, rows=rows, totals=totals,
                           schools=schools, today=local_today())  # fmt: skip


@bp.get("/screening/campaigns/<uuid:campaign_id>/results")
@require(Permission.STATS_SCREENING)
def results(campaign_id: uuid.UUID) -> ResponseReturnValue:
    campaign, schools = campaign_for(campaign_id, Permission.STATS_SCREENING)
    by = request.args.get("by", "grade")
    if by not in ("school", "grade", "class"):
        abort(400)
    labels = queries.band_labels(campaign.instruments, str(get_locale()))
    # The district's table as the job published it when fresh (one school's page shows its
    # lines of the same pattern); else the class-level rows whatever the level shown:
    # suppression protects the linked tables (classes, grades, schools) together, so no page
    # can be subtracted from another.
    tallied = results_tally()
    school_ids = [s.id for s in schools]
    published = tallied(get_session(), g.principal, campaign, school_ids, by) if tallied else None
    if published is None:
        rows = queries.results(get_session(), campaign, school_ids, by="class")
        order = {code: list(bands) for code, bands in labels.items()}
        published = results_suppression()(g.principal, rows, by, campaign.instruments, order)
    return render_template(
        "screening/results.html", campaign=campaign, published=published, by=by, labels=labels
    )


# --------------------------------------------------------------------------- file import


@bp.route("/screening/campaigns/<uuid:campaign_id>/import", methods=["GET", "POST"])
@require(Permission.SCREENING_MANAGE)
@accepts_upload
def upload(campaign_id: uuid.UUID) -> ResponseReturnValue:
    campaign, _schools = campaign_for(campaign_id, Permission.SCREENING_MANAGE)
    form = ImportForm()
    form.mapping.choices = [SelectChoice("", _("Standard columns"))] + [
        SelectChoice(m.name, m.name)
        for m in services.mappings_for_campaign(get_session(), g.principal, campaign)
    ]
    if request.method == "GET":
        return render_template("screening/import.html", form=form, campaign=campaign, report=None)
    if not form.validate_on_submit():
        return render_template(
            "screening/import.html", form=form, campaign=campaign, report=None
        ), 400
    upload_file = form.file.data
    suffix = Path(upload_file.filename or "results.csv").suffix.lower() or ".csv"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        upload_file.save(path)
        try:
            report = import_file(
                get_session(), g.principal, campaign, path, dry_run=form.dry_run.data,
                mapping_name=form.mapping.data or None, entered_by=g.user.id,
            )  # fmt: skip
        except (IntakeError, TabularError) as exc:
            reason = exc.message if isinstance(exc, IntakeError) else translate_message(str(exc))
            flash(_("The file was not imported: %(reason)s", reason=reason), "error")
            return render_template(
                "screening/import.html", form=form, campaign=campaign, report=None
            ), 400
    status = 200 if report.ok else 400
    return render_template("screening/import.html", form=form, campaign=campaign, report=report,
                           dry_run=form.dry_run.data, message=translate_message), status  # fmt: skip


@bp.route("/screening/mappings", methods=["GET", "POST"])
@require(Permission.SCREENING_MANAGE)
def mappings() -> ResponseReturnValue:
    db = get_session()
    form = MappingForm()
    rows = services.visible_mappings(db, g.principal)
    if request.method == "POST" and form.validate_on_submit():
        try:
            mapping = parse_mapping(form.lines.data or "")
        except ValueError:
            form.lines.errors = [*form.lines.errors, _("Each line needs: header = column")]
        else:
            try:
                services.save_own_mapping(
                    db, g.principal, name=given(form.name.data), mapping=mapping
                )
            except ScreeningError as exc:
                flash_error(exc)
                return render_template("screening/mappings.html", form=form, rows=rows), 400
            flash(_("Column mapping saved."), "success")
            return redirect(url_for("screening.mappings"))
        return render_template("screening/mappings.html", form=form, rows=rows), 400
    if request.method == "POST":
        return render_template("screening/mappings.html", form=form, rows=rows), 400
    return render_template("screening/mappings.html", form=form, rows=rows)


# --------------------------------------------------------------------------- one student's form


@bp.route("/screening/campaigns/<uuid:campaign_id>/entry", methods=["GET", "POST"])
@require(Permission.SCREENING_MANAGE)
def entry(campaign_id: uuid.UUID) -> ResponseReturnValue:
    campaign, schools = campaign_for(campaign_id, Permission.SCREENING_MANAGE)
    db = get_session()
    form = EntryForm()
    form.school.choices = school_choices(schools)
    instruments = questionnaire(campaign)
    context = {"form": form, "campaign": campaign, "instruments": instruments, "field_name": field_name,
               "locale": str(get_locale()), "multi": len(schools) > 1}  # fmt: skip
    if request.method == "GET":
        return render_template("screening/entry.html", **context)
    if not form.validate_on_submit():
        return render_template("screening/entry.html", **context), 400
    school = pick_school(schools, form.school.data)
    answers, bad = answers_from_form(request.form, {i.code: i for i in instruments})
    found, _missing = services.find_students(
        db, school.id, [given(form.student_number.data).strip()]
    )
    error: str | None = None
    if bad:
        error = _("Some answers are not valid.")
    elif not answers:
        error = _("No answers were given.")
    elif not found:
        error = _("No student with this number at this school.")
    if error is None:
        try:
            services.record_answers(
                db, g.principal, campaign, found[0], answers, source="form", entered_by=g.user.id
            )
        except ScreeningError as exc:  # an IntakeError too
            flash_error(exc)
            return render_template("screening/entry.html", **context), 400
    if error:
        flash(error, "error")
        return render_template("screening/entry.html", **context), 400
    flash(_("Answers saved."), "success")
    return redirect(url_for("screening.entry", campaign_id=campaign.id))


# --------------------------------------------------------------------------- review


@bp.get("/screening/review")
@require(Permission.TIER_DECIDE, sensitive=True)
def review() -> ResponseReturnValue:
    page = review_service.review_page(get_session(), g.principal)
    return render_template("screening/review.html", rows=page.rows, form=ReviewForm(), held=page.held,
                           events=page.events, confirm=ConfirmForm(), screening_message=translate_message)  # fmt: skip


@bp.post("/screening/review/<uuid:student_id>")
@require(Permission.TIER_DECIDE)
def review_decide(student_id: uuid.UUID) -> ResponseReturnValue:
    db = get_session()
    student = review_service.student_to_decide(db, g.principal, student_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(url_for("screening.review")), 303
    try:
        # Says what happened: a step-down from red only waits for a second person (and for whom).
        message = review_service.review_and_describe(
            db, g.principal, student, int(given(form.tier.data)), given(form.reason.data)
        )
    except (ScreeningError, TierError) as exc:
        flash_error(exc)
        return redirect(url_for("screening.review")), 303
    flash(message, "success")
    return redirect(url_for("screening.review"))


# --------------------------------------------------------------------------- a student's history


def history_context(
    session: Session,
    student: Student,
    locale: str,
    points: list[queries.HistoryPoint] | None = None,
) -> dict[str, Any]:
    """The history's table and chart (the page and the growth record's section); ``points``
    when the caller already read them (audited, :func:`.history.read_history`)."""
    if points is None:
        points = queries.student_history(session, student.id)
    instruments = builtin_instruments()
    labels = list(dict.fromkeys(p.campaign.opens_on.isoformat() for p in points))
    series = []
    for code in dict.fromkeys(p.response.instrument for p in points):
        inst = instruments.get(code)
        if inst is None or inst.total is None:
            continue
        scale = inst.scale(inst.total)
        series.append(Series(
            code=code, label=inst.name.get(locale), maximum=float(scale.maximum),
            cutoffs=tuple(float(b.lower) for b in scale.bands[1:]),
            points=tuple((p.campaign.opens_on.isoformat(), p.total) for p in points if p.response.instrument == code),
        ))  # fmt: skip
    chart = (
        trend_chart(series, labels, _("Screening scores over time"), _("No scores to draw yet."))
        if points
        else None
    )
    return {"points": points, "chart": chart, "instruments": instruments, "locale": locale}


@bp.get("/students/<uuid:student_id>/screening")
@require(Permission.SCREENING_READ, sensitive=True)
def history(student_id: uuid.UUID) -> ResponseReturnValue:
    db = get_session()
    student = history_service.student_for_screening(db, g.principal, student_id)
    points = history_service.read_history(db, g.principal, student)
    context = history_context(db, student, str(get_locale()), points)
    linked = event_items_of_responses(db, g.principal, [p.response.id for p in points])
    return render_template(
        "screening/history.html", student=student, section=context, linked=linked
    )


@bp.get("/students/<uuid:student_id>/screening/fhir")
@require(Permission.SCREENING_READ, sensitive=True, download=True)
def fhir_export(student_id: uuid.UUID) -> ResponseReturnValue:
    db = get_session()
    student = history_service.student_for_screening(db, g.principal, student_id)
    base_url = get_settings().base_url.rstrip("/") + "/fhir"  # never the Host header
    body = history_service.fhir_export(db, g.principal, student, base_url=base_url)
    return Response(json.dumps(body, ensure_ascii=False, indent=2), mimetype="application/fhir+json",
                    headers={"Content-Disposition": f"attachment; filename=screening-{student.id}.json"})  # fmt: skip


from .kiosk import held_views  # noqa: E402, F401  (their routes are on ``bp``)
from .kiosk import views as kiosk_views  # noqa: E402, F401
