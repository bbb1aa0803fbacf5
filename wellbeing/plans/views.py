"""Pages of the plan (一生一策): a student's plan, its editor (no script: rows are added and
removed by submit buttons that save the draft), the decisions on it (submit, sign off, return,
review, close), its versions and a comparison of any two, the printable plan, and the queue of
plans waiting for the viewer's sign-off.

Every page that shows a plan audits the read (``STUDENT_VIEW`` naming the plan's fields) before
it renders; the decisions are the services of ``plans.services``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..auth.names import user_names
from ..core.authz import Permission, Principal, can
from ..core.errors import DomainError, NotFound
from ..core.forms import PLEASE_CHOOSE
from ..core.states import state_label
from ..db import get_session
from ..screening.clock import local_today
from ..web import flash_error, require
from . import queries, services
from .forms import (
    ACHIEVEMENT_LABELS,
    INTERVENTION_LABELS,
    LIFECYCLE_LABELS,
    OUTSIDE,
    ROLE_LABELS,
    ButtonForm,
    PlanForm,
    ReasonForm,
    body_of,
    change_rows,
    drop_empty,
    form_data,
)
from .models import Plan, PlanState
from .record import (
    audit_queue,
    audit_student,
    crisis_choices,
    latest_plan,
    names_for,
    shown,
    staff_choices,
    student_or_404,
)
from .signoff import may_decide
from .task_views import tasks_bp

bp = Blueprint("plans", __name__)
# The task pages (``/tasks``) are the module's second page blueprint, registered by the app.
BLUEPRINTS = (tasks_bp,)

LABELS = {
    "lifecycle": LIFECYCLE_LABELS,
    "achievement": ACHIEVEMENT_LABELS,
    "intervention": INTERVENTION_LABELS,
    "role": ROLE_LABELS,
}
EDITABLE = (PlanState.DRAFT, PlanState.REVIEW)
SIGNOFF_QUEUE_LIMIT = 100


def _plan_url(student_id: uuid.UUID) -> ResponseReturnValue:
    return redirect(url_for("plans.plan", student_id=student_id))


def _open_plan(student_id: uuid.UUID) -> Plan:
    plan = queries.open_plan(get_session(), student_id)
    if plan is None:
        raise NotFound(_l("This student has no plan in progress."))
    return plan


@bp.get("/students/<uuid:student_id>/plan")
@require(Permission.PLANS_READ, sensitive=True)
def plan(student_id: uuid.UUID) -> ResponseReturnValue:
    session, principal = get_session(), g.principal
    student = student_or_404(session, principal, Permission.PLANS_READ, student_id)
    current = latest_plan(session, student.id)
    if current is None:
        audit_student(session, principal, student)
    view = shown(session, principal, current) if current is not None else None
    signoffs = list(queries.signoffs(session, current.id)) if current is not None else []
    versions = list(queries.versions(session, current.id)) if current is not None else []
    return render_template(
        "plans/plan.html", student=student, plan=current, shown=view, signoffs=signoffs,
        versions=versions, state=state_label(PlanState(current.state)) if current else None,
        names=names_for(session, current, view, signoffs, versions), labels=LABELS,
        may=_may(principal, student, current, versions), button=ButtonForm(),
        reason_form=ReasonForm(), PlanState=PlanState,
    )  # fmt: skip


def _may(
    principal: Principal, student: Any, plan: Plan | None, versions: list[Any]
) -> dict[str, bool]:
    """Which buttons the page offers (the services decide again: this only hides what they
    would refuse, e.g. signing one's own version)."""
    write = can(principal, Permission.PLANS_WRITE, student)
    signoff = can(principal, Permission.PLANS_SIGNOFF, student)
    state = plan.state if plan is not None else None
    open_plan = state is not None and state not in (PlanState.CLOSED, PlanState.CANCELLED)
    latest = versions[-1] if versions else None
    own = latest is not None and not may_decide(principal, latest)
    return {
        "start": write and (not open_plan or state == PlanState.PROPOSED),
        "edit": write and state in EDITABLE,
        "sign": signoff and state == PlanState.SUBMITTED and not own,
        "own_version": signoff and state == PlanState.SUBMITTED and own,
        "review": write and state == PlanState.ACTIVE,
        "close": write and open_plan,
        "print": plan is not None and bool(versions or (write and plan.draft)),
    }


@bp.post("/students/<uuid:student_id>/plan/start")
@require(Permission.PLANS_WRITE)
def start(student_id: uuid.UUID) -> ResponseReturnValue:
    student_or_404(get_session(), g.principal, Permission.PLANS_WRITE, student_id)
    if ButtonForm().validate_on_submit():
        try:
            services.start_plan(get_session(), g.principal, student_id)
        except DomainError as exc:
            flash_error(exc)
            return _plan_url(student_id)
        flash(_("Plan started. Write it, then save it as a version."), "success")
        return redirect(url_for("plans.edit", student_id=student_id))
    return _plan_url(student_id)


@bp.route("/students/<uuid:student_id>/plan/edit", methods=["GET", "POST"])
@require(Permission.PLANS_WRITE, sensitive=True)
def edit(student_id: uuid.UUID) -> ResponseReturnValue:
    """The editor. Buttons: save the draft; save it as a version (submitted for sign-off or in
    effect); add a row (the draft is saved, the editor shown again with an empty row); remove a
    row (saved without it). Bad input is shown beside its field with everything as typed."""
    session, principal = get_session(), g.principal
    student = student_or_404(session, principal, Permission.PLANS_WRITE, student_id)
    current = _open_plan(student.id)
    if current.state not in EDITABLE:
        flash(_("This plan is not being written now: start a review to change it."), "error")
        return _plan_url(student_id)
    body = services.read_draft(session, principal, current.id)
    staff, people = staff_choices(session, student, body)
    crises = crisis_choices(session, student, body)
    form = PlanForm(data=form_data(body)) if request.method == "GET" else PlanForm()
    _set_choices(form, people, crises)
    action = request.form.get("action", "save")
    if request.method == "POST" and form.validate_on_submit():
        typed = body_of(form, staff)
        if action.startswith("remove:"):
            change_rows(typed, action)
        try:
            services.save_draft(session, principal, current.id, drop_empty(typed))
            if action == "submit":
                number = services.save_version(session, principal, current.id).number
        except DomainError as exc:
            flash_error(exc)
        else:
            if action == "submit":
                flash(_("Version %(number)s saved.", number=number) + " " + _submitted(current),
                      "success")  # fmt: skip
                return _plan_url(student_id)
            flash(_("Draft saved."), "success")
            if not action.startswith("add:"):
                anchor = action.split(":")[1] if ":" in action else None
                anchor = "adults" if anchor == "tasks" else anchor  # the block a task is in
                return redirect(url_for("plans.edit", student_id=student_id, _anchor=anchor))
            shown = dict(current.draft or {})
            change_rows(shown, action)
            form = PlanForm(formdata=None, data=form_data(shown))
            _set_choices(form, people, crises)
    elif request.method == "POST":
        flash(_("Some fields need attention: see the messages beside them. Nothing was lost."),
              "error")  # fmt: skip
    return render_template(
        "plans/edit.html", student=student, plan=current, form=form,
        state=state_label(PlanState(current.state)), labels=LABELS,
    )  # fmt: skip


def _submitted(plan: Plan) -> str:
    if plan.state == PlanState.SUBMITTED:
        return _("It waits for the sign-off of the school leader or a district counsellor.")
    return _("It is in effect now.")


def _set_choices(
    form: PlanForm, people: list[tuple[str, str]], crises: list[tuple[str, str]]
) -> None:
    """The per-row choices: the adults' "who" select, the concerns a goal may answer, the
    crises whose safety plan may be linked."""
    form.safety_crisis_id.choices = [("", _("No safety step linked")), *crises]
    concerns = [
        (row.form.id.data, (row.form.text.data or "")[:60] or _("(concern with no text yet)"))
        for row in form.concerns
        if row.form.id.data
    ]
    for goal in form.goals:
        goal.form.concern_ids.choices = concerns
    for adult in form.adults:
        adult.form.person.choices = [
            ("", PLEASE_CHOOSE),
            *people,
            (OUTSIDE, _("A guardian or someone outside the school (type the name)")),
        ]


def _acting(student_id: uuid.UUID, permission: Permission) -> tuple[Any, Principal, Plan]:
    """The session, the acting person and the student's open plan (404 when absent)."""
    session, principal = get_session(), g.principal
    student_or_404(session, principal, permission, student_id)
    return session, principal, _open_plan(student_id)


def _reason() -> str | None:
    """The reason typed in the form, or None after flashing what is wrong with it."""
    form = ReasonForm()
    if form.validate_on_submit():
        return form.reason.data or ""
    for message in form.reason.errors:
        flash(str(message), "error")
    return None


def _attempt(action: Callable[[], str]) -> bool:
    """Run a service call; flash its confirmation (the string it returns) or its error."""
    try:
        message = action()
    except DomainError as exc:
        flash_error(exc)
        return False
    flash(message, "success")
    return True


@bp.post("/students/<uuid:student_id>/plan/sign")
@require(Permission.PLANS_SIGNOFF)
def sign(student_id: uuid.UUID) -> ResponseReturnValue:
    session, principal, current = _acting(student_id, Permission.PLANS_SIGNOFF)
    if ButtonForm().validate_on_submit():
        number = current.latest_version

        def signed() -> str:
            services.sign(session, principal, current.id, number)
            return _("Version %(number)s signed off: it is in effect now.", number=number)

        _attempt(signed)
    return _plan_url(student_id)


@bp.post("/students/<uuid:student_id>/plan/return")
@require(Permission.PLANS_SIGNOFF)
def return_version(student_id: uuid.UUID) -> ResponseReturnValue:
    session, principal, current = _acting(student_id, Permission.PLANS_SIGNOFF)
    reason = _reason()
    if reason is not None:
        number = current.latest_version

        def returned() -> str:
            services.return_version(session, principal, current.id, number, reason)
            return _("Version %(number)s returned to its author with your reason.", number=number)

        _attempt(returned)
    return _plan_url(student_id)


@bp.post("/students/<uuid:student_id>/plan/review")
@require(Permission.PLANS_WRITE)
def review(student_id: uuid.UUID) -> ResponseReturnValue:
    session, principal, current = _acting(student_id, Permission.PLANS_WRITE)

    def started() -> str:
        services.start_review(session, principal, current.id)
        return _("Review started. The version in effect stays in effect until the new one is.")

    if ButtonForm().validate_on_submit() and _attempt(started):
        return redirect(url_for("plans.edit", student_id=student_id))
    return _plan_url(student_id)


@bp.post("/students/<uuid:student_id>/plan/close")
@require(Permission.PLANS_WRITE)
def close(student_id: uuid.UUID) -> ResponseReturnValue:
    session, principal, current = _acting(student_id, Permission.PLANS_WRITE)
    reason = _reason()
    if reason is None:
        return _plan_url(student_id)

    def ended() -> str:
        if current.effective_version is None and current.state != PlanState.SUBMITTED:
            services.cancel_plan(session, principal, current.id, reason)
            return _("Plan cancelled.")
        services.close_plan(session, principal, current.id, reason)
        return _("Plan closed. Its versions stay readable in the record.")

    _attempt(ended)
    return _plan_url(student_id)


@bp.get("/students/<uuid:student_id>/plan/versions")
@require(Permission.PLANS_READ, sensitive=True)
def versions(student_id: uuid.UUID) -> ResponseReturnValue:
    """The versions of the student's latest plan; with ``?a=1&b=3`` two of them compared."""
    session, principal = get_session(), g.principal
    student = student_or_404(session, principal, Permission.PLANS_READ, student_id)
    current = latest_plan(session, student.id)
    if current is None:
        audit_student(session, principal, student)
    else:
        services.read_plan(session, principal, current.id)
    rows = list(queries.versions(session, current.id)) if current is not None else []
    by_number = {v.number: v for v in rows}
    a, b = request.args.get("a", type=int), request.args.get("b", type=int)
    changes, compared, status = None, None, 200
    if a is not None or b is not None:
        if current is not None and a in by_number and b in by_number:
            old, new = (by_number[a], by_number[b]) if a <= b else (by_number[b], by_number[a])
            changes = services.compare_versions(
                session, principal, current.id, old.number, new.number
            )
            compared = (old, new)
        else:
            flash(_("Choose two versions of this plan to compare."), "error")
            status = 400
    page = render_template(
        "plans/versions.html", student=student, plan=current, versions=rows, changes=changes,
        compared=compared, names=names_for(session, current, None, [], rows),
    )  # fmt: skip
    return page, status


@bp.get("/students/<uuid:student_id>/plan/print")
@require(Permission.PLANS_READ, sensitive=True)
def print_plan(student_id: uuid.UUID) -> ResponseReturnValue:
    """The plan on paper (A4): a version (the one in effect by default, ``?version=n``) with a
    block for the signatures; no menu."""
    session, principal = get_session(), g.principal
    student = student_or_404(session, principal, Permission.PLANS_READ, student_id)
    current = latest_plan(session, student.id)
    if current is None:
        raise NotFound(_l("This student has no plan."))
    view = shown(session, principal, current, request.args.get("version", type=int))
    if view.version is None and not view.body:
        raise NotFound(_l("There is nothing of this plan to print yet."))
    signoffs = list(queries.signoffs(session, current.id))
    return render_template(
        "plans/print.html", student=student, plan=current, shown=view, signoffs=signoffs,
        names=names_for(session, current, view, signoffs, []), labels=LABELS,
        state=state_label(PlanState(current.state)), today=local_today(),
    )  # fmt: skip


@bp.get("/plans/signoffs")
@require(Permission.PLANS_SIGNOFF, sensitive=True)
def signoffs() -> ResponseReturnValue:
    """Plans waiting for the viewer's sign-off (least data: the student's chip, the version,
    who wrote it and when)."""
    session, principal = get_session(), g.principal
    rows = list(queries.signoff_queue(session, principal, local_today(), SIGNOFF_QUEUE_LIMIT))
    audit_queue(session, principal, [row.student for row in rows])
    latest = {row.plan.id: queries.version(session, row.plan.id, row.plan.latest_version)
              for row in rows}  # fmt: skip
    authors: set[uuid.UUID | None] = {v.author_id for v in latest.values() if v is not None}
    return render_template(
        "plans/signoffs.html", rows=rows, latest=latest, names=user_names(session, authors),
        limit=SIGNOFF_QUEUE_LIMIT,
    )  # fmt: skip
