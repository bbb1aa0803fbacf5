"""The agenda (my follow-ups: overdue, today, this week), completing and scheduling follow-ups,
and the per-user iCalendar feed (no names or details; secret token, revocable)."""

from __future__ import annotations

import datetime as dt
import uuid

from babel.dates import format_date, format_interval
from flask import (
    Blueprint,
    Response,
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
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _

from ..config import Settings
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, can, ensure
from ..db import get_session, utcnow
from ..notify.services import mark_notices_read, translations, unread_notices
from ..students.chip import chip_fields
from ..students.models import Student
from ..web import require
from . import agenda as agenda_sources
from . import ical, queries, services
from .forms import (
    OUTCOME_LABELS,
    SOURCE_LABELS,
    CompleteForm,
    EmptyForm,
    ScheduleForm,
)
from .models import ACTIVE_STATES, STATE_LABELS, FollowUpState

bp = Blueprint("followups", __name__)


@bp.app_context_processor
def _followup_states() -> dict[str, object]:
    """The states templates compare with (never a bare string)."""
    return {"FollowUpState": FollowUpState, "FOLLOWUP_ACTIVE": ACTIVE_STATES}


def _settings() -> Settings:
    settings: Settings = current_app.extensions["wellbeing.settings"]
    return settings


def _local_to_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=_settings().tz).astimezone(dt.UTC)


def _record_view(student_ids: list[uuid.UUID], followup_id: uuid.UUID | None = None,
                 school_id: uuid.UUID | None = None) -> None:  # fmt: skip
    audit.record(
        get_session(), AuditAction.FOLLOWUP_VIEW, object_type="followup", object_id=followup_id,
        student_id=student_ids[0] if followup_id and student_ids else None, school_id=school_id,
        detail={"students": student_ids},
    )  # fmt: skip


def _week_param() -> dt.date | None:
    """``?week=YYYY-MM-DD`` (any day of the week); a value that is not a date is refused with a
    message and this week is shown."""
    raw = request.args.get("week", "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        flash(
            _("“%(value)s” is not a date (YYYY-MM-DD): this week is shown.", value=raw[:20]),
            "error",
        )
        return None


def _dates(start: dt.date) -> dict[str, object]:
    """The week's heading and day titles in the user's language: 2026年3月2日（周一）至3月8日（周日）
    and 3月2日 星期一 in Chinese; Mon, Mar 2 – Sun, Mar 8, 2026 and Monday, March 2 in English."""
    locale = str(get_locale() or "zh_CN")
    end = start + dt.timedelta(days=6)
    if locale.startswith("zh"):
        last = "y年M月d日（EEE）" if end.year != start.year else "M月d日（EEE）"
        heading = f"{format_date(start, 'y年M月d日（EEE）', locale=locale)}至{format_date(end, last, locale=locale)}"
        day_pattern = "M月d日 EEEE"
    else:
        heading = format_interval(start, end, "yMMMEd", locale=locale)
        day_pattern = "EEEE, MMMM d"
    return {"range": heading, "day": lambda day: format_date(day, day_pattern, locale=locale)}


@bp.get("/agenda")
@require(Permission.SELF_AGENDA, sensitive=True)
def agenda() -> ResponseReturnValue:
    session = get_session()
    now = utcnow()
    tz = _settings().tz
    data = queries.agenda_week(session, g.principal.user_id, now, tz, _week_param())
    rows = {row.student.id: row.student for row in data.rows}
    named = [sid for sid in data.students if can(g.principal, Permission.RECORD_READ, rows[sid])]
    # Other modules' items (plan tasks: agenda.AGENDA_SOURCES), named with the chip.
    today = now.astimezone(tz).date()
    extras = agenda_sources.agenda_items(session, g.principal.user_id, data.start, data.end, today)
    extra_students = {i.student.id: i.student for i in extras if i.student is not None}
    audit.record(
        session, AuditAction.FOLLOWUP_VIEW, object_type="followup",
        fields=list(dict.fromkeys(
            (["outcome"] if any(r.followup.outcome for r in data.rows) else [])
            + chip_fields(g.principal, [rows[sid] for sid in named] + list(extra_students.values()))
            + [name for item in extras for name in item.fields]
        )),
        detail={"students": sorted({*named, *extra_students}, key=str),
                "week": data.start.isoformat()},
    )  # fmt: skip
    notices = unread_notices(session, g.principal.user_id)
    mark_notices_read(session, g.principal.user_id, [n.id for n in notices])
    this_week = queries.week_start(now.astimezone(tz).date())
    return render_template(
        "followups/agenda.html", agenda=data, named=set(named), notices=notices,
        has_token=services.has_calendar_token(session, g.principal.user_id), token_form=EmptyForm(),
        today=now.astimezone(tz).date(), prev_week=data.start - dt.timedelta(days=7),
        next_week=data.start + dt.timedelta(days=7), this_week=this_week, dates=_dates(data.start),
        extras=extras,
        outcomes=OUTCOME_LABELS, states=STATE_LABELS, sources=SOURCE_LABELS,
    )  # fmt: skip


@bp.get("/followups/<uuid:followup_id>")
@require(Permission.RECORD_READ, sensitive=True)
def detail(followup_id: uuid.UUID) -> ResponseReturnValue:
    """One follow-up as the record keeps it: a completed one with its note and outcome."""
    try:
        followup, student, names = services.read_followup(get_session(), g.principal, followup_id)
    except LookupError:
        abort(404)
    return render_template(
        "followups/detail.html", followup=followup, student=student, names=names,
        outcomes=OUTCOME_LABELS, states=STATE_LABELS, sources=SOURCE_LABELS,
        may_manage=can(g.principal, Permission.FOLLOWUPS_MANAGE, student),
    )  # fmt: skip


@bp.route("/followups/<uuid:followup_id>/complete", methods=["GET", "POST"])
@require(Permission.FOLLOWUPS_MANAGE, sensitive=True)
def complete(followup_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    try:
        followup, student = services.get_followup(session, g.principal, followup_id)
    except LookupError:
        abort(404)
    if followup.state not in ACTIVE_STATES:  # nothing left to record: read what was recorded
        _record_view([student.id], followup.id, student.school_id)
        return redirect(url_for("followups.detail", followup_id=followup.id))
    form = CompleteForm()
    if form.validate_on_submit():
        when = _local_to_utc(form.reschedule_to.data) if form.reschedule_to.data else None
        try:
            following = services.complete_followup(
                session, g.principal, followup, outcome=form.outcome.data, note=form.note.data or "",
                reschedule_to=when,
            )  # fmt: skip
        except services.FollowUpError as exc:
            form.note.errors = [*form.note.errors, exc.message]
        else:
            # Say what follows, read back from the follow-up the service created (if any).
            flash(_("Follow-up recorded. Next follow-up: %(time)s.",
                    time=format_datetime(following.due_at, "yyyy-MM-dd HH:mm"))
                  if following is not None
                  else _("Follow-up recorded. No next follow-up is scheduled."), "success")  # fmt: skip
            return redirect(url_for("followups.agenda"))
    _record_view([student.id], followup.id, student.school_id)
    return render_template("followups/complete.html", form=form, followup=followup, student=student,
                           sources=SOURCE_LABELS)  # fmt: skip


@bp.route("/students/<uuid:student_id>/followups/new", methods=["GET", "POST"])
@require(Permission.FOLLOWUPS_MANAGE, sensitive=True)
def schedule(student_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    student = session.get(Student, student_id)
    if student is None:
        abort(404)
    ensure(g.principal, Permission.FOLLOWUPS_MANAGE, student)
    form = ScheduleForm()
    if form.validate_on_submit() and form.due_at.data is not None:  # DataRequired: never None
        due = _local_to_utc(form.due_at.data)
        if due <= utcnow():
            form.due_at.errors = [*form.due_at.errors, _("Choose a time in the future.")]
        else:
            services.schedule_followup(session, g.principal, student, due_at=due,
                                       owner_id=g.principal.user_id, source="manual")  # fmt: skip
            flash(_("Follow-up scheduled for %(time)s with you as its owner; it is in your "
                    "follow-up agenda. No message was sent.",
                    time=format_datetime(due, "yyyy-MM-dd HH:mm")), "success")  # fmt: skip
            return redirect(url_for("followups.agenda"))
    _record_view([student.id], None, student.school_id)
    return render_template("followups/schedule.html", form=form, student=student)


@bp.post("/agenda/calendar-token")
@require(Permission.SELF_AGENDA)
def calendar_token() -> ResponseReturnValue:
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    token = services.issue_calendar_token(get_session(), g.principal.user_id)
    feed_url = f"{_settings().base_url.rstrip('/')}{url_for('followups.feed', token=token)}"
    return render_template("followups/calendar_token.html", feed_url=feed_url)


@bp.post("/agenda/calendar-token/revoke")
@require(Permission.SELF_AGENDA)
def revoke_calendar_token() -> ResponseReturnValue:
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    services.revoke_calendar_token(get_session(), g.principal.user_id)
    flash(_("The calendar link no longer works."), "success")
    return redirect(url_for("followups.agenda"))


@bp.get("/agenda/<string:token>.ics")
@require(Permission.PUBLIC)
def feed(token: str) -> ResponseReturnValue:
    session = get_session()
    user = services.calendar_user(session, token)
    if user is None:
        abort(404)
    now = utcnow()
    settings = _settings()
    t = translations(user.locale)
    today = now.astimezone(settings.tz).date()
    body = ical.calendar(
        [
            ical.FeedEvent(uid=f"{fid}@wellbeing", start=due)
            for fid, due in queries.feed_items(session, user.id, now)
        ]
        + agenda_sources.feed_events(session, user.id, today, t.gettext),
        summary=t.gettext("Follow-up"),
        url=f"{settings.base_url.rstrip('/')}{url_for('followups.agenda')}",
        name=t.gettext("Wellbeing agenda"),
        now=now,
    )
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    return response
