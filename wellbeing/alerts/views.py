"""The alerts inbox: list, detail, acknowledge, resolve; the navigation count."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import LazyString, format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission
from ..core.errors import DomainError
from ..core.states import state_label
from ..db import get_session, utcnow
from ..students.chip import chip_fields
from ..web import flash_error, require
from . import district, links, queries, services
from .common import KIND_LABELS
from .forms import AcknowledgeForm, QueueFilterForm, ResolveForm
from .models import STATES, Alert, AlertState
from .nav import inbox_count

bp = Blueprint("alerts", __name__)

# Rendered when shown (in the reader's language), not at import.
STATE_LABELS: dict[str, object] = {state: LazyString(state_label, state) for state in STATES}
FILTER_LABELS: dict[str, object] = {**STATE_LABELS, queries.ALL: _l("All")}
ROLE_LABELS = {
    "psych_teacher": _l("Psychology teacher"),
    "school_leader": _l("School leader"),
    "counsellor": _l("District counsellor"),
    "supervisor": _l("Supervisor"),
}
REASON_LABELS = {
    True: _l("Escalated to the district"),
    False: _l("Student followed by the district"),
}
STEP_LABELS = {
    "raise": _l("Raised"),
    "escalate": _l("Escalated"),
    "widen": _l("Widened to all district counsellors"),
    "remind": _l("Reminder"),
}


@bp.app_context_processor
def _template_globals() -> dict[str, object]:
    return {"inbox_count": inbox_count}


def _load(alert_id: uuid.UUID) -> Alert:
    """The alert, or the 404/403 page (an uncaught NotFound/Forbidden)."""
    return services.get_alert(get_session(), g.principal, alert_id)


@bp.get("/alerts")
@require(Permission.SELF_INBOX, sensitive=True)
def inbox() -> ResponseReturnValue:
    session = get_session()
    state = request.args.get("state", AlertState.OPEN)
    if state not in queries.STATE_FILTERS:
        state = AlertState.OPEN
    page_no = request.args.get("page", 1, type=int) or 1
    page = queries.inbox_page(session, g.user.id, state, page_no)
    alerts = [row.alert for row in page.rows]
    names = services.visible_students(session, g.principal, alerts)
    audit.record(
        session, AuditAction.ALERT_LIST, object_type="alert",
        fields=chip_fields(g.principal, names.values(), school=False, prefix="student."),
        detail={
            "state": state, "page": page.page, "alerts": [a.id for a in alerts],
            "students": sorted({str(a.student_id) for a in alerts if a.student_id}),
        },
    )  # fmt: skip
    return render_template(
        "alerts/inbox.html", page=page, names=names, state=state, filters=FILTER_LABELS,
        kinds=KIND_LABELS, states=STATE_LABELS, now=utcnow(),
    )  # fmt: skip


@bp.get("/alerts/<uuid:alert_id>")
@require(Permission.SELF_INBOX, sensitive=True)
def detail(alert_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    alert = _load(alert_id)
    names = services.visible_students(session, g.principal, [alert])
    show_note = alert.resolution_note_ct is not None and services.may_read_note(
        session, g.principal, alert
    )
    fields = (["student.name"] if names else []) + (["resolution_note"] if show_note else [])
    audit.record(
        session, AuditAction.ALERT_VIEW, object_type="alert", object_id=alert.id,
        student_id=alert.student_id, school_id=alert.school_id, fields=fields,
        detail={"kind": alert.kind, "state": alert.state},
    )  # fmt: skip
    people = queries.display_names(session, alert.acknowledged_by_id, alert.resolved_by_id)
    return render_template(
        "alerts/detail.html", alert=alert, student=names.get(alert.id),
        school_name=queries.school_name(session, alert.school_id),
        steps=queries.alert_steps(session, alert.id), people=people,
        note=alert.resolution_note if show_note else None,
        ack_form=AcknowledgeForm(), resolve_form=ResolveForm(),
        kinds=KIND_LABELS, states=STATE_LABELS, roles=ROLE_LABELS, step_labels=STEP_LABELS,
        may_act=services.may_handle(session, g.principal, alert), now=utcnow(),
        linked=links.linked_items(session, g.principal, alert),
    )  # fmt: skip


@bp.post("/alerts/<uuid:alert_id>/acknowledge")
@require(Permission.SELF_INBOX)
def acknowledge(alert_id: uuid.UUID) -> ResponseReturnValue:
    form = AcknowledgeForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        done = services.acknowledge_event(get_session(), g.principal, alert_id)
    except services.AlertNotFound:
        raise
    except DomainError as exc:
        flash_error(exc)
    else:
        flash(done.message(), "success")
    return redirect(url_for("alerts.detail", alert_id=alert_id))


@bp.post("/alerts/<uuid:alert_id>/resolve")
@require(Permission.SELF_INBOX)
def resolve(alert_id: uuid.UUID) -> ResponseReturnValue:
    form = ResolveForm()
    if not form.validate_on_submit():
        _load(alert_id)  # 404/403 before telling what is missing
        flash(_("Write what was done before resolving the alert."), "error")
        return redirect(url_for("alerts.detail", alert_id=alert_id))
    try:
        services.resolve(get_session(), g.principal, alert_id, form.note.data or "")
    except services.AlertNotFound:
        raise
    except DomainError as exc:
        flash_error(exc)
    else:
        flash(_("Alert resolved."), "success")
    return redirect(url_for("alerts.detail", alert_id=alert_id))


def _queue_filter(form: QueueFilterForm) -> district.QueueFilter:
    """The filters asked for; a value that is not one of the choices is reset to the field's
    default and the person is told which filter it was."""
    if not form.validate():
        for name in form.errors:
            field = form[name]
            field.data = field.default
            flash(
                _("The filter “%(name)s” had a value that does not exist; it shows everything.",
                  name=field.label.text),
                "error",
            )  # fmt: skip
    return district.QueueFilter(
        state=form.state.data or AlertState.OPEN,
        school_id=uuid.UUID(form.school.data) if form.school.data else None,
        tier=int(form.tier.data) if form.tier.data else None,
        age=form.age.data or "",
    )


@bp.get("/district/alerts")
@require(Permission.DISTRICT_ESCALATIONS, sensitive=True)
def district_queue() -> ResponseReturnValue:
    """Every alert the district centre may act on, beside each counsellor's own inbox."""
    session = get_session()
    form = QueueFilterForm(request.args)
    schools = district.queue_schools(session, g.principal)
    form.school.choices = [("", _("All schools")), *((str(s.id), s.name) for s in schools)]
    filters = _queue_filter(form)
    now = utcnow()
    page, names = district.district_queue(
        session, g.principal, filters, now=now, page=request.args.get("page", 1, type=int) or 1
    )
    args = {name: form[name].data for name in ("school", "tier", "age", "state") if form[name].data}
    return render_template(
        "alerts/district.html", page=page, names=names, form=form, filters=filters, args=args,
        kinds=KIND_LABELS, states=STATE_LABELS, reasons=REASON_LABELS, now=now,
        age=lambda alert: format_timedelta(now - alert.raised_at, granularity="minute"),
    )  # fmt: skip
