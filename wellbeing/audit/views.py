"""The supervisor's console (search, who accessed a record, review queues, CSV export,
integrity) and break-glass access.

Supervisors see metadata only: user names of staff, actions, times, outcomes and student ids
(shown as a short reference), never a student's name or any case content.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..config import Settings
from ..core import audit, audit_verify
from ..core.audit import AuditAction
from ..core.authz import Permission
from ..core.forms import SelectChoice
from ..core.states import state_label
from ..db import get_db, get_session, utcnow
from ..orgs.models import School
from ..students.models import Student
from ..web import flash_error, get_settings, require
from . import labels, queries, services
from .forms import ConfirmForm, ReviewForm, SearchForm
from .models import AuditEntry, BreakGlass, BreakGlassState

P = Permission
bp = Blueprint("audit", __name__)


def _settings() -> Settings:
    return get_settings()


def _tz() -> ZoneInfo:
    return _settings().tz


def _student_url(student_id: uuid.UUID) -> str:
    return f"/students/{student_id}"


@bp.app_template_filter("student_ref")
def _student_ref_filter(value: Any) -> str:
    return services.student_ref(value)


@bp.app_context_processor
def _audit_labels() -> dict[str, Any]:
    return {"audit_labels": labels, "state_label": state_label}


# --------------------------------------------------------------------------- filters


def _school_choices(session: Session) -> list[SelectChoice]:
    rows = session.execute(select(School.id, School.name).order_by(School.name)).all()
    return [SelectChoice("", _("Any"))] + [SelectChoice(str(i), n) for i, n in rows]


def _action_choices() -> list[SelectChoice]:
    labelled = sorted((str(labels.action_label(a)), str(a)) for a in AuditAction)
    return [SelectChoice("", _("Any"))] + [SelectChoice(code, label) for label, code in labelled]


def _district_school_ids(session: Session) -> set[uuid.UUID]:
    """Schools whose students the console's student filter looks up: those of the user's
    districts (every school when the user has no district scope)."""
    districts = {s.district_id for s in g.principal.scopes if s.district_id is not None}
    stmt = select(School.id)
    if districts:
        stmt = stmt.where(School.district_id.in_(districts))
    return set(session.scalars(stmt))


def _search_form(session: Session) -> SearchForm:
    form = SearchForm(formdata=request.args)
    form.school.choices = _school_choices(session)
    form.action.choices = _action_choices()
    return form


def _local_midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=_tz()).astimezone(dt.UTC)


def _resolve_user(session: Session, raw: str) -> uuid.UUID:
    raw = raw.strip()
    try:
        return uuid.UUID(raw)
    except ValueError:
        pass
    found = session.scalar(select(User.id).where(User.username == raw.lower()))
    return found or uuid.UUID(int=0)  # unknown user: a filter that matches nothing


def _filter_from(
    form: SearchForm, session: Session, base: queries.EntryFilter | None = None
) -> queries.EntryFilter:
    f = base or queries.EntryFilter(tz=_tz())
    if form.school.data:
        try:
            f.school_id = uuid.UUID(form.school.data)
        except ValueError:
            f.school_id = uuid.UUID(int=0)
    if form.student.data and form.student.data.strip():
        schools = {f.school_id} if f.school_id else _district_school_ids(session)
        match = queries.resolve_student(session, form.student.data, schools)
        g.audit_student_match = match
        if match.kind == "id":
            f.student_id = match.ids[0]
        else:
            f.student_ids = match.ids
    if form.user.data:
        f.user_id = _resolve_user(session, form.user.data)
    if form.action.data and form.action.data in AuditAction._value2member_map_:
        f.action = form.action.data
    if form.outcome.data in {"allowed", "denied", "error"}:
        f.outcome = form.outcome.data
    if form.since.data:
        f.since = _local_midnight_utc(form.since.data)
    if form.until.data:
        f.until = _local_midnight_utc(form.until.data + dt.timedelta(days=1))
    if form.break_glass.data:
        f.break_glass_only = True
    return f


def _match_detail() -> dict[str, str]:
    """How the student filter was read (the typed text itself is never recorded)."""
    match = g.get("audit_student_match")
    return {"student_query": match.kind} if match is not None else {}


def _args_without(*names: str) -> dict[str, Any]:
    return {k: v for k, v in request.args.items() if k not in names}


def _names(
    session: Session, user_ids: set[uuid.UUID], school_ids: set[uuid.UUID]
) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, str]]:
    users: dict[uuid.UUID, str] = {}
    if user_ids:
        users = dict(
            session.execute(select(User.id, User.username).where(User.id.in_(user_ids)))
            .tuples()
            .all()
        )
    schools: dict[uuid.UUID, str] = {}
    if school_ids:
        schools = dict(
            session.execute(select(School.id, School.name).where(School.id.in_(school_ids)))
            .tuples()
            .all()
        )
    return users, schools


def _school_names(session: Session, entries: Iterable[AuditEntry]) -> dict[uuid.UUID, str]:
    ids = {e.school_id for e in entries if e.school_id}
    return _names(session, set(), ids)[1]


# --------------------------------------------------------------------------- console


@bp.get("/audit/")
@require(P.AUDIT_READ)
def search() -> ResponseReturnValue:
    session = get_session()
    form = _search_form(session)
    page, f = None, None
    if not request.args or form.validate():
        f = _filter_from(form, session)
        page = queries.search(session, f, queries.Cursor.decode(request.args.get("after")))
        audit.record(
            session, AuditAction.AUDIT_SEARCH, object_type="audit_trail",
            student_id=f.student_id, school_id=f.school_id,
            detail={**f.tokens(), **_match_detail(), "next_page": bool(request.args.get("after"))},
        )  # fmt: skip
    return render_template(
        "audit/search.html", form=form, page=page, student_match=g.get("audit_student_match"),
        schools=_school_names(session, page.entries) if page else {},
        next_url=url_for("audit.search", **_args_without("after"), after=page.next_cursor)
        if page and page.next_cursor else None,
        export_url=url_for("audit.export_csv", **_args_without("after")),
    )  # fmt: skip


@bp.get("/audit/queues/<any(denied, exports, 'after-hours'):kind>")
@require(P.AUDIT_READ)
def queue(kind: str) -> ResponseReturnValue:
    session = get_session()
    form = _search_form(session)
    page = None
    if not request.args or form.validate():
        f = _filter_from(form, session, queries.queue_filter(kind, _tz()))
        page = queries.search(session, f, queries.Cursor.decode(request.args.get("after")))
        audit.record(session, AuditAction.AUDIT_QUEUE_VIEW, object_type="audit_trail",
                     detail={"queue": kind, **f.tokens(), **_match_detail()})  # fmt: skip
    return render_template(
        "audit/queue.html", kind=kind, form=form, page=page,
        student_match=g.get("audit_student_match"),
        schools=_school_names(session, page.entries) if page else {},
        next_url=url_for("audit.queue", kind=kind, **_args_without("after"), after=page.next_cursor)
        if page and page.next_cursor else None,
        export_url=url_for("audit.export_csv", queue=kind, **_args_without("after", "queue")),
    )  # fmt: skip


@bp.get("/audit/students/<uuid:student_id>")
@require(P.AUDIT_READ, sensitive=True)
def student_accesses(student_id: uuid.UUID) -> ResponseReturnValue:
    """Who accessed this record: one line per user, then the entries (metadata only)."""
    session = get_session()
    student = session.get(Student, student_id)
    f = queries.EntryFilter(student_id=student_id, tz=_tz())
    page = queries.search(session, f, queries.Cursor.decode(request.args.get("after")))
    accessors = queries.accessors(session, student_id)
    audit.record(
        session, AuditAction.AUDIT_STUDENT_VIEW, object_type="audit_trail", student_id=student_id,
        school_id=student.school_id if student else None, detail={"accessors": len(accessors)},
    )  # fmt: skip
    return render_template(
        "audit/student.html", student_id=student_id, accessors=accessors, page=page,
        schools=_school_names(session, page.entries),
        next_url=url_for("audit.student_accesses", student_id=student_id, after=page.next_cursor)
        if page.next_cursor else None,
    )  # fmt: skip


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = str(value)
    # Spreadsheet formula injection: a cell starting with = + - @ is shown as text.
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def _csv_lines(f: queries.EntryFilter) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = [*queries.EXPORT_COLUMNS, "student_ref"]
    writer.writerow(header)
    yield "\ufeff" + buffer.getvalue()
    db = get_db()
    for row in queries.iter_export_rows(db.sessionmaker, f):
        buffer.seek(0)
        buffer.truncate()
        cells = [_csv_cell(getattr(row, name)) for name in queries.EXPORT_COLUMNS]
        writer.writerow([*cells, services.student_ref(row.student_id)])
        yield buffer.getvalue()


@bp.get("/audit/export.csv")
@require(P.AUDIT_EXPORT, download=True)
def export_csv() -> ResponseReturnValue:
    """Stream the filtered selection as CSV; the export itself is an audit entry."""
    session = get_session()
    form = _search_form(session)
    if request.args and not form.validate():
        abort(400)
    kind = request.args.get("queue")
    base = queries.queue_filter(kind, _tz()) if kind in queries.QUEUES else None
    f = _filter_from(form, session, base)
    audit.record(
        session, AuditAction.AUDIT_EXPORT, object_type="audit_trail", student_id=f.student_id,
        school_id=f.school_id, purpose="audit_export",
        detail={**f.tokens(), **_match_detail(), **({"queue": kind} if base else {}),
                "format": "csv"},
    )  # fmt: skip
    name = f"audit-{utcnow():%Y%m%dT%H%M%SZ}.csv"
    return Response(
        stream_with_context(_csv_lines(f)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/audit/integrity")
@require(P.AUDIT_INTEGRITY)
def integrity() -> ResponseReturnValue:
    session = get_session()
    status = queries.integrity_status(session)
    users, _schools = _names(session, {g_.user_id for g_ in status.unreviewable}, set())
    return render_template(
        "audit/integrity.html", status=status, form=ConfirmForm(), users=users,
        grant_status=services.grant_status,
    )  # fmt: skip


@bp.post("/audit/integrity/verify")
@require(P.AUDIT_INTEGRITY)
def verify_now() -> ResponseReturnValue:
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    directory = Path(_settings().audit_checkpoint_dir)
    path = audit_verify.latest_checkpoint_file(directory)
    try:
        checkpoint = audit_verify.Checkpoint.load(path) if path else None
    except (ValueError, TypeError, OSError):
        checkpoint = None
        flash(_("The newest checkpoint file cannot be read."), "error")
    result = audit_verify.verify_in_session(
        get_session(), checkpoint, directory=directory, full=False
    )  # from the last verified checkpoint, as `audit verify` does by default
    if result.ok:
        flash(
            ngettext(
                "The audit trail is intact (%(num)d entry checked).",
                "The audit trail is intact (%(num)d entries checked).",
                result.checked,
            ),
            "success",
        )
    else:
        flash(_("The audit trail was tampered with: %(msg)s", msg=result.message), "error")
    return redirect(url_for("audit.integrity"))


# --------------------------------------------------------------------------- break-glass review


@bp.get("/audit/break-glass")
@require(P.AUDIT_REVIEW)
def break_glass_queue() -> ResponseReturnValue:
    session = get_session()
    reviewed = request.args.get("reviewed") == "1"
    me = g.principal.user_id
    # Your own grants wait for another supervisor: they are not in your queue.
    grants = queries.break_glass_queue(
        session, reviewed=reviewed, exclude_user=None if reviewed else me
    )
    users, _schools = _names(session, {g_.user_id for g_ in grants}, set())
    audit.record(session, AuditAction.AUDIT_QUEUE_VIEW, object_type="break_glass",
                 detail={"queue": "break_glass", "reviewed": reviewed, "count": len(grants)})  # fmt: skip
    return render_template(
        "audit/break_glass_queue.html", grants=grants, users=users, reviewed=reviewed,
        status=services.grant_status, own_waiting=queries.own_grants_waiting(session, me),
    )  # fmt: skip


def _grant_or_404(grant_id: uuid.UUID) -> BreakGlass:
    grant = get_session().get(BreakGlass, grant_id)
    if grant is None:
        abort(404)
    return grant


@bp.route("/audit/break-glass/<uuid:grant_id>", methods=["GET", "POST"])
@require(P.AUDIT_REVIEW, sensitive=True)
def break_glass_review(grant_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    grant = _grant_or_404(grant_id)
    form = ReviewForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.review_break_glass(session, g.principal, grant, form.comment.data or "")
        except services.BreakGlassError as exc:
            flash_error(exc)
            status = 409
        else:
            flash(_("Marked as reviewed."), "success")
            return redirect(url_for("audit.break_glass_queue"))
    services.open_grant_for_review(session, g.principal, grant)
    users, _schools = _names(
        session, {i for i in (grant.user_id, grant.reviewed_by_id) if i}, set()
    )
    page = queries.search(
        session, queries.EntryFilter(break_glass_id=grant.id, tz=_tz()), limit=200
    )
    return render_template(
        "audit/break_glass_review.html", grant=grant, form=form, users=users, page=page,
        status=services.grant_status(grant), schools=_school_names(session, page.entries),
    ), status  # fmt: skip


# --------------------------------------------------------------------------- break-glass access


@bp.get("/break-glass")
@require(P.BREAK_GLASS)
def my_break_glass() -> ResponseReturnValue:
    grants = queries.my_grants(get_session(), g.principal.user_id)
    return render_template("audit/my_grants.html", grants=grants, status=services.grant_status,
                           active=BreakGlassState.ACTIVE,
                           form=ConfirmForm())  # fmt: skip


@bp.post("/break-glass/<uuid:grant_id>/end")
@require(P.BREAK_GLASS)
def break_glass_end(grant_id: uuid.UUID) -> ResponseReturnValue:
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    grant = _grant_or_404(grant_id)
    if services.end_break_glass(get_session(), g.principal, grant):
        flash(_("Break-glass access ended."), "success")
    return redirect(url_for("audit.my_break_glass"))
