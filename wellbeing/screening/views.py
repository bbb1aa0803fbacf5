"""Screening pages: campaigns, progress, results (counts), upload, one student's form, the
review queue of provisional decisions, a student's history and its FHIR export."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path

from flask import (
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission, Role, can
from ..core.tabular import TabularError
from ..db import get_session, utcnow
from ..orgs.models import School
from ..risk.services import TierError
from ..students.models import Student
from ..ui import nav_item
from ..web import accepts_upload, get_settings, require
from . import held as held_service
from . import queries, services
from .blueprint import bp
from .charts import Series, trend_chart
from .clock import local_today
from .forms import (
    CampaignForm,
    ConfirmForm,
    EntryForm,
    ImportForm,
    MappingForm,
    ReviewForm,
    answers_from_form,
    field_name,
    parse_mapping,
)
from .importer import import_file
from .instruments import builtin_instruments
from .intake import IntakeError
from .messages import instrument_names, translate_message
from .models import Campaign, ColumnMapping
from .pages import campaign_for, pick_school, questionnaire, school_choices

nav_item("screening.index", _l("Screening"), Permission.STATS_SCREENING, 30)
nav_item("screening.review", _l("Screening review"), Permission.TIER_DECIDE, 31)


@bp.app_template_filter("instrument_names")
def _instrument_names(codes: str | list[str]) -> str:
    """Instrument codes → their names (from the YAML) in the user's language."""
    return instrument_names(codes if isinstance(codes, str) else ",".join(codes))


# --------------------------------------------------------------------------- campaigns


@bp.get("/screening/")
@require(Permission.STATS_SCREENING)
def index():  # type: ignore[no-untyped-def]
    campaigns = services.campaigns_for(get_session(), g.principal, Permission.STATS_SCREENING)
    return render_template("screening/index.html", campaigns=campaigns, today=local_today())


@bp.route("/screening/campaigns/new", methods=["GET", "POST"])
@require(Permission.SCREENING_MANAGE)
def new_campaign():  # type: ignore[no-untyped-def]
    db = get_session()
    district_wide = Role.COUNSELLOR in g.principal.roles
    schools = list(db.query(School).filter(School.active.is_(True)).order_by(School.code))
    schools = [s for s in schools if can(g.principal, Permission.SCREENING_MANAGE, s)]
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
            db, g.principal, name=form.name.data, instruments=form.instruments.data, schools=chosen,
            grades=list(range(form.grade_from.data, form.grade_to.data + 1)), opens_on=form.opens_on.data,
            closes_on=form.closes_on.data, consent_text=form.consent_text.data or "",
            district_wide=form.school.data == "all",
        )  # fmt: skip
    except services.ScreeningError as exc:
        flash(exc.translated(), "error")
        return render_template("screening/campaign_form.html", form=form), 400
    flash(_("Campaign created."), "success")
    return redirect(url_for("screening.campaign", campaign_id=campaign.id))


@bp.get("/screening/campaigns/<uuid:campaign_id>")
@require(Permission.SCREENING_MANAGE)
def campaign(campaign_id: uuid.UUID):  # type: ignore[no-untyped-def]
    campaign, schools = campaign_for(campaign_id, Permission.SCREENING_MANAGE)
    rows = queries.progress(get_session(), campaign, [s.id for s in schools])
    totals = {
        k: sum(getattr(r, k) for r in rows) for k in ("eligible", "screened", "voided", "missing")
    }
    return render_template("screening/campaign.html", campaign=campaign, rows=rows, totals=totals,
                           schools=schools, today=local_today())  # fmt: skip


@bp.get("/screening/campaigns/<uuid:campaign_id>/results")
@require(Permission.STATS_SCREENING)
def results(campaign_id: uuid.UUID):  # type: ignore[no-untyped-def]
    campaign, schools = campaign_for(campaign_id, Permission.STATS_SCREENING)
    by = request.args.get("by", "grade")
    if by not in ("school", "grade", "class"):
        abort(400)
    rows = queries.results(get_session(), campaign, [s.id for s in schools], by=by)
    labels = queries.band_labels(campaign.instruments, str(get_locale()))
    return render_template(
        "screening/results.html", campaign=campaign, rows=rows, by=by, labels=labels
    )


# --------------------------------------------------------------------------- file import


def _mappings(campaign: Campaign) -> list[ColumnMapping]:
    db = get_session()
    rows = (
        db.query(ColumnMapping)
        .filter(ColumnMapping.district_id == campaign.district_id)
        .order_by(ColumnMapping.name)
    )
    return [
        m
        for m in rows
        if m.school_id is None or can(g.principal, Permission.SCREENING_MANAGE, _Owned(m.school_id))
    ]


class _Owned:
    def __init__(self, school_id: uuid.UUID) -> None:
        self.school_id = school_id


@bp.route("/screening/campaigns/<uuid:campaign_id>/import", methods=["GET", "POST"])
@require(Permission.SCREENING_MANAGE)
@accepts_upload
def upload(campaign_id: uuid.UUID):  # type: ignore[no-untyped-def]
    campaign, _schools = campaign_for(campaign_id, Permission.SCREENING_MANAGE)
    form = ImportForm()
    form.mapping.choices = [SelectChoice("", _("Standard columns"))] + [
        SelectChoice(m.name, m.name) for m in _mappings(campaign)
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
            reason = translate_message(str(exc))
            flash(_("The file was not imported: %(reason)s", reason=reason), "error")
            return render_template(
                "screening/import.html", form=form, campaign=campaign, report=None
            ), 400
    status = 200 if report.ok else 400
    return render_template("screening/import.html", form=form, campaign=campaign, report=report,
                           dry_run=form.dry_run.data, message=translate_message), status  # fmt: skip


@bp.route("/screening/mappings", methods=["GET", "POST"])
@require(Permission.SCREENING_MANAGE)
def mappings():  # type: ignore[no-untyped-def]
    db = get_session()
    schools = [
        s
        for s in db.query(School).order_by(School.code)
        if can(g.principal, Permission.SCREENING_MANAGE, s)
    ]
    form = MappingForm()
    rows = [
        m for m in db.query(ColumnMapping).order_by(ColumnMapping.name)
        if (m.school_id is None and Role.COUNSELLOR in g.principal.roles) or any(s.id == m.school_id for s in schools)
    ]  # fmt: skip
    if request.method == "POST" and form.validate_on_submit():
        try:
            mapping = parse_mapping(form.lines.data)
        except ValueError:
            form.lines.errors = [*form.lines.errors, _("Each line needs: header = column")]
        else:
            school = None if Role.COUNSELLOR in g.principal.roles or not schools else schools[0]
            district_id = (
                school.district_id if school else (schools[0].district_id if schools else None)
            )
            if district_id is None:
                abort(403)
            try:
                services.save_mapping(db, g.principal, district_id=district_id, school=school, name=form.name.data,
                                      mapping=mapping)  # fmt: skip
            except services.ScreeningError as exc:
                flash(exc.translated(), "error")
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
def entry(campaign_id: uuid.UUID):  # type: ignore[no-untyped-def]
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
    found, _missing = services.find_students(db, school.id, [form.student_number.data.strip()])
    error = None
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
        except services.ScreeningError as exc:
            error = exc.translated()
        except IntakeError as exc:
            error = translate_message(str(exc))
    if error:
        flash(error, "error")
        return render_template("screening/entry.html", **context), 400
    flash(_("Answers saved."), "success")
    return redirect(url_for("screening.entry", campaign_id=campaign.id))


# --------------------------------------------------------------------------- review


@bp.get("/screening/review")
@require(Permission.TIER_DECIDE, sensitive=True)
def review():  # type: ignore[no-untyped-def]
    db = get_session()
    school_ids = list(g.principal.school_ids(Role.PSYCH_TEACHER))
    rows = [
        r
        for r in queries.review_queue(db, school_ids)
        if can(g.principal, Permission.TIER_DECIDE, r.student)
    ]
    held = held_service.pending(db, g.principal)
    fields = ["student.name", "tier"] + (["screening.held_answers"] if held else [])
    audit.record(db, AuditAction.SCREENING_LIST, object_type="review_queue", fields=fields,
                 detail={"students": [r.student.id for r in rows],
                         "held": [h.held.id for h in held]})  # fmt: skip
    return render_template("screening/review.html", rows=rows, form=ReviewForm(), held=held,
                           confirm=ConfirmForm(), screening_message=translate_message)  # fmt: skip


@bp.post("/screening/review/<uuid:student_id>")
@require(Permission.TIER_DECIDE)
def review_decide(student_id: uuid.UUID):  # type: ignore[no-untyped-def]
    db = get_session()
    student = db.get(Student, student_id)
    if student is None:
        abort(404)
    if not can(g.principal, Permission.TIER_DECIDE, student):
        raise Forbidden(Permission.TIER_DECIDE, student)
    form = ReviewForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(url_for("screening.review")), 303
    from ..crisis.notices import decision_message

    started = utcnow()
    try:
        decision = services.review_decision(
            db, g.principal, student, int(form.tier.data), form.reason.data
        )
    except services.ScreeningError as exc:
        flash(exc.translated(), "error")
        return redirect(url_for("screening.review")), 303
    except TierError as exc:  # its message is a lazy msgid, translated when read
        flash(str(exc), "error")
        return redirect(url_for("screening.review")), 303
    # Says what happened: a step-down from red only waits for a second person (and for whom).
    flash(decision_message(db, student, decision, since=started), "success")
    return redirect(url_for("screening.review"))


# --------------------------------------------------------------------------- a student's history


def _student(student_id: uuid.UUID) -> Student:
    student = get_session().get(Student, student_id)
    if student is None:
        abort(404)
    if not can(g.principal, Permission.SCREENING_READ, student):
        raise Forbidden(Permission.SCREENING_READ, student)
    return student


def history_context(session, student: Student, locale: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
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
    chart = trend_chart(series, labels, _("Screening scores over time")) if points else None
    return {"points": points, "chart": chart, "instruments": instruments, "locale": locale}


@bp.get("/students/<uuid:student_id>/screening")
@require(Permission.SCREENING_READ, sensitive=True)
def history(student_id: uuid.UUID):  # type: ignore[no-untyped-def]
    student = _student(student_id)
    db = get_session()
    context = history_context(db, student, str(get_locale()))
    audit.record(db, AuditAction.SCREENING_VIEW, object_type="student", object_id=student.id, student_id=student.id,
                 school_id=student.school_id, fields=["screening.scores", "screening.bands"])  # fmt: skip
    return render_template("screening/history.html", student=student, section=context)


@bp.get("/students/<uuid:student_id>/screening/fhir")
@require(Permission.SCREENING_READ, sensitive=True, download=True)
def fhir_export(student_id: uuid.UUID):  # type: ignore[no-untyped-def]
    student = _student(student_id)
    db = get_session()
    base_url = get_settings().base_url.rstrip("/") + "/fhir"  # never the Host header
    body = services.fhir_bundle(db, student, base_url=base_url)
    audit.record(db, AuditAction.RECORD_EXPORT, object_type="student", object_id=student.id, student_id=student.id,
                 school_id=student.school_id, fields=["screening.answers", "screening.scores"],
                 detail={"format": "fhir_r4", "responses": len(body["entry"])})  # fmt: skip
    return Response(json.dumps(body, ensure_ascii=False, indent=2), mimetype="application/fhir+json",
                    headers={"Content-Disposition": f"attachment; filename=screening-{student.id}.json"})  # fmt: skip


def _record_section(session, principal, student):  # type: ignore[no-untyped-def]
    if not can(principal, Permission.SCREENING_READ, student):
        return None
    context = history_context(session, student, str(get_locale()))
    if not context["points"]:
        return None
    return "screening/_history.html", context, ["screening.scores", "screening.bands"]


try:
    from ..students.record import section

    section("screening", order=30)(_record_section)
except ImportError:  # pragma: no cover - the students module ships with the app
    pass

from . import held_views, kiosk_views  # noqa: E402, F401  (their routes are on ``bp``)
