"""Tier panel and history, set/confirm a tier, step-down approvals, special care, the policy."""

from __future__ import annotations

import uuid
from typing import Any

import yaml
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from wtforms.fields.choices import SelectChoice

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission, Principal, can, ensure
from ..db import get_session
from ..orgs.services import default_district
from ..students.models import Student
from ..ui import nav_item
from ..web import require
from . import queries, services
from .forms import ConfirmForm, PolicyForm, SpecialCareForm, TierForm
from .models import PENDING, TierDecision
from .policy import Policy, PolicyError, current_policy, default_body, policy_for_student

bp = Blueprint("risk", __name__)

nav_item("risk.stepdown_queue", _l("Step-down approvals"), Permission.TIER_APPROVE_STEPDOWN, 45)
nav_item("risk.policy", _l("Tier policy"), Permission.POLICY_MANAGE, 90)


def _locale() -> str:
    return str(get_locale() or "zh")


def _student(student_id: uuid.UUID) -> Student:
    student = get_session().get(Student, student_id)
    if student is None:
        abort(404)
    return student


# --------------------------------------------------------------------------- tier page


def _tier_page(
    student: Student, form: TierForm | None = None, care_form: SpecialCareForm | None = None
):  # type: ignore[no-untyped-def]
    session = get_session()
    principal: Principal = g.principal
    may_care = can(principal, Permission.SPECIAL_CARE_MANAGE, student)
    history = services.view_tier(
        session, principal, student, fields=["special_care"] if may_care else []
    )
    policy = policy_for_student(session, student)
    names = queries.display_names(
        session, [d.decided_by for d in history] + [d.approved_by for d in history]
    )
    pending = next((d for d in history if d.status == PENDING), None)
    if form is None:
        form = TierForm(formdata=None, tier=student.tier)
    care = None
    if may_care:
        held = services.get_special_care(student)
        if care_form is None:
            care_form = SpecialCareForm(formdata=None, categories=held)
        care_form.categories.choices = _care_choices(policy, held)
        care = {"form": care_form, "labels": [policy.category_label(c, _locale()) for c in held]}
    return render_template(
        "risk/tier.html",
        student=student,
        history=list(reversed(history)),
        names=names,
        pending=pending,
        form=form,
        care=care,
        policy=policy,
        locale=_locale(),
        action_form=ConfirmForm(),
        may_approve=pending is not None and _may_approve(principal, pending, student),
    )


def _may_approve(principal: Principal, decision: TierDecision, student: Student) -> bool:
    return decision.decided_by != principal.user_id and can(
        principal, Permission.TIER_APPROVE_STEPDOWN, student
    )


def _care_choices(policy: Policy, held: list[str]) -> list[SelectChoice]:
    locale = _locale()
    choices = [SelectChoice(c.code, c.label(locale)) for c in policy.special_care_categories]
    choices += [SelectChoice(c, c) for c in held if c not in policy.special_care_codes]
    return choices


@bp.get("/students/<uuid:student_id>/tier")
@require(Permission.TIER_DECIDE, sensitive=True)
def student_tier(student_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return _tier_page(_student(student_id))


@bp.post("/students/<uuid:student_id>/tier")
@require(Permission.TIER_DECIDE)
def set_tier(student_id: uuid.UUID):  # type: ignore[no-untyped-def]
    student = _student(student_id)
    ensure(g.principal, Permission.TIER_DECIDE, student)
    form = TierForm()
    if form.validate_on_submit():
        try:
            decision = services.apply_tier(
                get_session(),
                g.principal,
                student,
                form.tier.data,
                source="manual",
                reason=form.reason.data,
            )
        except services.TierError as exc:
            form.reason.errors = [*form.reason.errors, _(str(exc))]
        else:
            if decision is not None and decision.status == PENDING:
                flash(_("The step-down from red waits for a second person's approval."), "success")
            else:
                flash(_("Tier decision recorded."), "success")
            return redirect(url_for("risk.student_tier", student_id=student.id))
    return _tier_page(student, form=form)


@bp.post("/students/<uuid:student_id>/special-care")
@require(Permission.SPECIAL_CARE_MANAGE)
def set_special_care(student_id: uuid.UUID):  # type: ignore[no-untyped-def]
    session = get_session()
    student = _student(student_id)
    ensure(g.principal, Permission.SPECIAL_CARE_MANAGE, student)
    form = SpecialCareForm()
    form.categories.choices = _care_choices(
        policy_for_student(session, student), services.get_special_care(student)
    )
    if form.validate_on_submit():
        services.set_special_care(session, g.principal, student, form.categories.data or [])
        flash(_("Special-care categories saved."), "success")
    else:
        flash(_("Choose categories from the list."), "error")
    if can(g.principal, Permission.TIER_DECIDE, student):
        return redirect(url_for("risk.student_tier", student_id=student.id))
    return redirect(url_for("auth.home"))


# --------------------------------------------------------------------------- step-downs


@bp.get("/tier/stepdowns")
@require(Permission.TIER_APPROVE_STEPDOWN, sensitive=True)
def stepdown_queue():  # type: ignore[no-untyped-def]
    session = get_session()
    rows = queries.pending_stepdowns(session, g.principal)
    names = queries.display_names(session, [d.decided_by for d, _s in rows])
    schools = queries.school_names(session, {s.school_id for _d, s in rows})
    audit.record(
        session,
        AuditAction.TIER_VIEW,
        object_type="stepdown_queue",
        fields=["tier", "tier_reason", "name"],
        detail={"students": [s.id for _d, s in rows]},
    )
    return render_template(
        "risk/stepdowns.html",
        rows=rows,
        names=names,
        schools=schools,
        form=ConfirmForm(),
        me=g.principal.user_id,
    )


def _decision(decision_id: uuid.UUID) -> TierDecision:
    decision = get_session().get(TierDecision, decision_id)
    if decision is None:
        abort(404)
    return decision


def _stepdown_action(decision_id: uuid.UUID, action: str):  # type: ignore[no-untyped-def]
    session = get_session()
    decision = _decision(decision_id)
    student = _student(decision.student_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if action == "approve":
            services.approve_stepdown(session, g.principal, decision)
            flash(_("Step-down approved; the new tier applies now."), "success")
        else:
            services.reject_stepdown(session, g.principal, decision)
            flash(_("Step-down declined; the student stays red."), "success")
    except services.TierError as exc:
        flash(_(str(exc)), "error")
    target = request.form.get("next", "")
    if target == "tier" and can(g.principal, Permission.TIER_DECIDE, student):
        return redirect(url_for("risk.student_tier", student_id=student.id))
    if can(g.principal, Permission.TIER_APPROVE_STEPDOWN):
        return redirect(url_for("risk.stepdown_queue"))
    return redirect(url_for("risk.student_tier", student_id=student.id))


@bp.post("/tier/stepdowns/<uuid:decision_id>/approve")
@require(Permission.TIER_APPROVE_STEPDOWN)
def approve_stepdown(decision_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return _stepdown_action(decision_id, "approve")  # the service checks the student's scope


@bp.post("/tier/stepdowns/<uuid:decision_id>/reject")
@require(Permission.TIER_APPROVE_STEPDOWN)
def reject_stepdown(decision_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return _stepdown_action(decision_id, "reject")  # the service checks the student's scope


@bp.post("/tier/stepdowns/<uuid:decision_id>/withdraw")
@require(Permission.TIER_DECIDE)
def withdraw_stepdown(decision_id: uuid.UUID):  # type: ignore[no-untyped-def]
    decision = _decision(decision_id)
    ensure(g.principal, Permission.TIER_DECIDE, _student(decision.student_id))
    if decision.decided_by != g.principal.user_id:
        raise Forbidden(Permission.TIER_DECIDE, decision)
    return _stepdown_action(decision_id, "withdraw")


# --------------------------------------------------------------------------- policy


def _district_id(session: Session, principal: Principal) -> uuid.UUID:
    for scope in principal.scopes:
        if scope.district_id is not None:
            return scope.district_id
    return default_district(session).id


def _dump(body: dict[str, Any]) -> str:
    return yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=100)


@bp.route("/admin/policy", methods=["GET", "POST"])
@require(Permission.POLICY_MANAGE)
def policy():  # type: ignore[no-untyped-def]
    session = get_session()
    district_id = _district_id(session, g.principal)
    versions = services.policy_versions(session, district_id)
    form = PolicyForm()
    errors: list[tuple[str, str]] = []
    if form.validate_on_submit():
        try:
            body = yaml.safe_load(form.body.data)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(text)"
            errors = [(where, _("this is not valid YAML or JSON"))]
        else:
            try:
                row = services.save_policy(session, g.principal, district_id, body)
            except PolicyError as exc:
                errors = exc.errors
            else:
                flash(_("Policy version %(version)s saved.", version=row.version), "success")
                return redirect(url_for("risk.policy"))
    elif request.method == "GET":
        shown = versions[0] if versions else None
        wanted = request.args.get("version", type=int)
        if wanted is not None:
            shown = next((v for v in versions if v.version == wanted), None)
            if shown is None:
                abort(404)
        body = shown.body if shown is not None else default_body()
        form.body.data = _dump(body)
    current = current_policy(session, district_id)
    names = queries.display_names(session, [v.created_by for v in versions])
    return render_template(
        "risk/policy.html",
        form=form,
        errors=errors,
        versions=versions,
        names=names,
        current=current,
        locale=_locale(),
    )


# --------------------------------------------------------------------------- record section

try:  # the students module's registry of growth-record sections
    from ..students.record import section
except ImportError:  # pragma: no cover
    section = None  # type: ignore[assignment]


def tier_section(session: Session, principal: Principal, student: Student):  # type: ignore[no-untyped-def]
    if not can(principal, Permission.RECORD_READ, student):
        return None
    policy = policy_for_student(session, student)
    fields = ["tier"]
    care_labels = None
    if can(principal, Permission.SPECIAL_CARE_MANAGE, student):
        care_labels = [
            policy.category_label(c, _locale()) for c in services.get_special_care(student)
        ]
        fields.append("special_care")
    context = {
        "may_decide": can(principal, Permission.TIER_DECIDE, student),
        "care_labels": care_labels,
    }
    return "risk/_record_section.html", context, fields


if section is not None:
    section("tier", order=5)(tier_section)
