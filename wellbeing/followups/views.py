"""The agenda (my follow-ups: overdue, today, this week), completing and scheduling follow-ups,
and the per-user iCalendar feed (no names or details; secret token, revocable)."""

from __future__ import annotations

import datetime as dt
import uuid

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, can, ensure
from ..db import get_session, utcnow
from ..notify.services import mark_notices_read, translations, unread_notices
from ..students.models import Student
from ..ui import nav_item
from ..web import require
from . import ical, queries, services
from .forms import CompleteForm, EmptyForm, ScheduleForm

bp = Blueprint("followups", __name__)

nav_item("followups.agenda", _l("My agenda"), Permission.SELF_AGENDA, order=20)


def _settings():  # type: ignore[no-untyped-def]
    return current_app.extensions["wellbeing.settings"]


def _local_to_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=_settings().tz).astimezone(dt.UTC)


def _record_view(student_ids: list[uuid.UUID], followup_id: uuid.UUID | None = None,
                 school_id: uuid.UUID | None = None) -> None:  # fmt: skip
    audit.record(
        get_session(), AuditAction.FOLLOWUP_VIEW, object_type="followup", object_id=followup_id,
        student_id=student_ids[0] if followup_id and student_ids else None, school_id=school_id,
        detail={"students": student_ids},
    )  # fmt: skip


@bp.get("/agenda")
@require(Permission.SELF_AGENDA, sensitive=True)
def agenda():  # type: ignore[no-untyped-def]
    session = get_session()
    now = utcnow()
    data = queries.agenda(session, g.principal.user_id, now, _settings().tz)
    named = [s for s in data.students if _may_see_name(s, data)]
    _record_view(named)
    notices = unread_notices(session, g.principal.user_id)
    mark_notices_read(session, g.principal.user_id, [n.id for n in notices])
    return render_template(
        "followups/agenda.html", agenda=data, named=set(named), notices=notices,
        has_token=services.has_calendar_token(session, g.principal.user_id), token_form=EmptyForm(),
    )  # fmt: skip


def _may_see_name(student_id: uuid.UUID, data: queries.Agenda) -> bool:
    row = next(r for r in data.overdue + data.today + data.week if r.student.id == student_id)
    return can(g.principal, Permission.RECORD_READ, row.student)


@bp.route("/followups/<uuid:followup_id>/complete", methods=["GET", "POST"])
@require(Permission.FOLLOWUPS_MANAGE, sensitive=True)
def complete(followup_id: uuid.UUID):  # type: ignore[no-untyped-def]
    session = get_session()
    try:
        followup, student = services.get_followup(session, g.principal, followup_id)
    except LookupError:
        abort(404)
    form = CompleteForm()
    if form.validate_on_submit():
        when = _local_to_utc(form.reschedule_to.data) if form.reschedule_to.data else None
        try:
            services.complete_followup(session, g.principal, followup, outcome=form.outcome.data,
                                       note=form.note.data, reschedule_to=when)  # fmt: skip
        except services.FollowUpError as exc:
            form.note.errors = [*form.note.errors, _(str(exc))]
        else:
            flash(_("Follow-up recorded."), "success")
            return redirect(url_for("followups.agenda"))
    _record_view([student.id], followup.id, student.school_id)
    return render_template("followups/complete.html", form=form, followup=followup, student=student,
                           closed=followup.state not in ("open", "overdue"))  # fmt: skip


@bp.route("/students/<uuid:student_id>/followups/new", methods=["GET", "POST"])
@require(Permission.FOLLOWUPS_MANAGE, sensitive=True)
def schedule(student_id: uuid.UUID):  # type: ignore[no-untyped-def]
    session = get_session()
    student = session.get(Student, student_id)
    if student is None:
        abort(404)
    ensure(g.principal, Permission.FOLLOWUPS_MANAGE, student)
    form = ScheduleForm()
    if form.validate_on_submit():
        due = _local_to_utc(form.due_at.data)
        if due <= utcnow():
            form.due_at.errors = [*form.due_at.errors, _("Choose a time in the future.")]
        else:
            services.schedule_followup(session, g.principal, student, due_at=due,
                                       owner_id=g.principal.user_id, source="manual")  # fmt: skip
            flash(_("Follow-up scheduled."), "success")
            return redirect(url_for("followups.agenda"))
    _record_view([student.id], None, student.school_id)
    return render_template("followups/schedule.html", form=form, student=student)


@bp.post("/agenda/calendar-token")
@require(Permission.SELF_AGENDA)
def calendar_token():  # type: ignore[no-untyped-def]
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    token = services.issue_calendar_token(get_session(), g.principal.user_id)
    feed_url = f"{_settings().base_url.rstrip('/')}{url_for('followups.feed', token=token)}"
    return render_template("followups/calendar_token.html", feed_url=feed_url)


@bp.post("/agenda/calendar-token/revoke")
@require(Permission.SELF_AGENDA)
def revoke_calendar_token():  # type: ignore[no-untyped-def]
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    services.revoke_calendar_token(get_session(), g.principal.user_id)
    flash(_("The calendar link no longer works."), "success")
    return redirect(url_for("followups.agenda"))


@bp.get("/agenda/<string:token>.ics")
@require(Permission.PUBLIC)
def feed(token: str):  # type: ignore[no-untyped-def]
    session = get_session()
    user = services.calendar_user(session, token)
    if user is None:
        abort(404)
    now = utcnow()
    settings = _settings()
    t = translations(user.locale)
    body = ical.calendar(
        [
            ical.FeedEvent(uid=f"{fid}@wellbeing", start=due)
            for fid, due in queries.feed_items(session, user.id, now)
        ],
        summary=t.gettext("Follow-up"),
        url=f"{settings.base_url.rstrip('/')}{url_for('followups.agenda')}",
        name=t.gettext("Wellbeing agenda"),
        now=now,
    )
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    return response
