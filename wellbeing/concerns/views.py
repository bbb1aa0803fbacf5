"""Concern form, the reporter's own list, the psych teacher's queue, the hotline log."""

from __future__ import annotations

import datetime as dt
import uuid

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..alerts.services import event_items
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission
from ..core.errors import DomainError
from ..core.forms import please_choose
from ..db import get_session, utcnow
from ..orgs.labels import school_label
from ..students.models import Student
from ..web import flash_error, require
from . import hotline as hotline_calls
from . import services
from .forms import (
    CALLER_LABELS,
    CATEGORY_LABELS,
    RISK_LABELS,
    STATE_LABELS,
    TOPIC_LABELS,
    URGENCY_LABELS,
    ConcernForm,
    HotlineForm,
    MarkForm,
)
from .models import OPEN, STATES, ConcernState

bp = Blueprint("concerns", __name__)


LABELS = {
    "category": dict(CATEGORY_LABELS), "urgency": dict(URGENCY_LABELS), "status": STATE_LABELS,
    "caller": dict(CALLER_LABELS), "topic": dict(TOPIC_LABELS), "risk": dict(RISK_LABELS),
}  # fmt: skip


# Marking tells nobody: the reporter sees the new status in their own list.
MARKED = {
    ConcernState.SEEN: _l(
        "Marked as seen. The reporter sees this status in their reports; no message was sent."
    ),
    ConcernState.ACTED: _l(
        "Marked as acted on. The reporter sees this status in their reports; no message was sent."
    ),
}


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


@bp.route("/concerns/new", methods=["GET", "POST"])
@require(Permission.CONCERN_REPORT, sensitive=True)
def new() -> ResponseReturnValue:
    session, principal = get_session(), g.principal
    form = ConcernForm()
    students = services.reportable_students(session, principal)
    schools = [] if students else services.reporting_schools(session, principal)
    if students:  # a class teacher's pick list; no lookup by number
        form.student_id.choices = please_choose([(str(s.id), s.name) for s in students])
        del form.school_id, form.student_number
        # "Report a concern" from the class list names the student: chosen already.
        wanted = request.args.get("student", "")
        if request.method == "GET" and any(str(s.id) == wanted for s in students):
            form.student_id.data = wanted
    else:
        form.school_id.choices = [(str(s.id), school_label(s)) for s in schools]
        del form.student_id
    # The pick list shows names of the reporter's own classes: recorded like any list.
    audit.record(
        session, AuditAction.STUDENT_LIST, object_type="concern_form", object_id="pick_list",
        fields=["name"] if students else [], detail={"students": [str(s.id) for s in students]},
    )  # fmt: skip
    if form.validate_on_submit():
        student = _chosen_student(session, form, students)
        if student is not None:
            try:
                report = services.report_concern(
                    session, principal, student, category=form.category.data,
                    urgency=form.urgency.data, text=form.text.data,
                )  # fmt: skip
            except services.ConcernError as exc:
                form.text.errors = [*form.text.errors, exc.message]
            else:
                # What was done, read back from the rows (who was alerted, by which channel).
                flash(report.message(), "error" if report.alert is not None else "success")
                return redirect(url_for("concerns.mine"))
    return render_template("concerns/new.html", form=form, list_mode=bool(students))


def _chosen_student(session: Session, form: ConcernForm, students: list[Student]) -> Student | None:
    if students:
        chosen = {str(s.id): s for s in students}.get(form.student_id.data or "")
        if chosen is None:
            form.student_id.errors = [*form.student_id.errors, _("Choose a student of your class.")]
        return chosen
    school_id = _uuid(form.school_id.data)
    student = None
    if school_id is not None:
        student = services.find_student_by_number(
            session, school_id, form.student_number.data or ""
        )
    if student is None:
        form.student_number.errors = [
            *form.student_number.errors,
            _("No student with this number at this school."),
        ]
    return student


@bp.get("/concerns/mine")
@require(Permission.CONCERN_OWN, sensitive=True)
def mine() -> ResponseReturnValue:
    rows = services.own_concerns(get_session(), g.principal)
    return render_template("concerns/mine.html", rows=rows, labels=LABELS)


@bp.get("/concerns/queue")
@require(Permission.RECORD_READ, sensitive=True)
def queue() -> ResponseReturnValue:
    status = request.args.get("status", OPEN)
    if status not in {OPEN, *STATES, ""}:
        status = OPEN
    page = max(1, request.args.get("page", 1, type=int) or 1)
    session = get_session()
    rows = services.concern_queue(
        session, g.principal, status=status or None, limit=51, offset=(page - 1) * 50
    )
    names = services.user_names(session, {c.reporter_id for c, _ in rows})
    return render_template(
        "concerns/queue.html", rows=rows[:50], names=names, labels=LABELS, status=status,
        page=page, has_next=len(rows) > 50,
    )  # fmt: skip


@bp.get("/concerns/<uuid:concern_id>")
@require(Permission.RECORD_READ, sensitive=True)
def detail(concern_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    found = services.get_concern(session, g.principal, concern_id)
    if found is None:
        abort(404)
    concern, student = found
    names = services.user_names(
        session, {concern.reporter_id, concern.seen_by_id, concern.acted_by_id}
    )
    return render_template(
        "concerns/detail.html", concern=concern, student=student, names=names, labels=LABELS,
        form=MarkForm(), linked=event_items(session, g.principal, concern.alert_id, exclude=concern.id),
    )  # fmt: skip


@bp.post("/concerns/<uuid:concern_id>/mark")
@require(Permission.RECORD_WRITE)
def mark(concern_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    concern = session.get(services.Concern, concern_id)
    if concern is None:
        abort(404)
    form = MarkForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.mark(session, g.principal, concern, form.action.data, note=form.note.data)
    except DomainError as exc:
        flash_error(exc)
    else:
        flash(str(MARKED[ConcernState(concern.state)]), "success")
    return redirect(url_for("concerns.detail", concern_id=concern.id))


# --------------------------------------------------------------------------- hotline


@bp.get("/hotline")
@require(Permission.HOTLINE_LOG)
def hotline() -> ResponseReturnValue:
    session = get_session()
    calls = hotline_calls.hotline_calls(session, g.principal)
    since = utcnow() - dt.timedelta(days=365)
    stats = hotline_calls.hotline_stats(session, g.principal, since)
    return render_template("concerns/hotline.html", calls=calls, stats=stats, labels=LABELS)


@bp.route("/hotline/new", methods=["GET", "POST"])
@require(Permission.HOTLINE_LOG)
def hotline_new() -> ResponseReturnValue:
    session, principal = get_session(), g.principal
    form = HotlineForm()
    form.school_id.choices = [("", "—")] + [
        (str(s.id), school_label(s)) for s in services.reporting_schools(session, principal)
    ]
    tz = current_app.extensions["wellbeing.settings"].tz
    if request.method == "GET" and form.called_at.data is None:
        form.called_at.data = utcnow().astimezone(tz).replace(second=0, microsecond=0, tzinfo=None)
    called_at, minutes = form.called_at.data, form.duration_minutes.data
    if form.validate_on_submit() and called_at is not None and minutes is not None:
        try:
            _call, report = hotline_calls.record_hotline_call(
                session, principal, called_at=called_at.replace(tzinfo=tz),
                duration_minutes=minutes, caller_type=form.caller_type.data,
                topics=list(form.topics.data or []), risk_level=int(form.risk_level.data),
                notes=form.notes.data, school_id=_uuid(form.school_id.data),
                student_number=form.student_number.data,
            )  # fmt: skip
        except services.ConcernError as exc:
            form.notes.errors = [*form.notes.errors, exc.message]
        else:
            flash(hotline_calls.hotline_message(report), "success")
            return redirect(url_for("concerns.hotline"))
    return render_template("concerns/hotline_new.html", form=form)


@bp.get("/hotline/<uuid:call_id>")
@require(Permission.HOTLINE_LOG, sensitive=True)
def hotline_detail(call_id: uuid.UUID) -> ResponseReturnValue:
    call = hotline_calls.get_hotline_call(get_session(), g.principal, call_id)
    if call is None:
        abort(404)
    return render_template("concerns/hotline_detail.html", call=call, labels=LABELS)
