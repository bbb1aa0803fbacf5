"""Tier panel and history, set/confirm a tier, step-down approvals, special care, the policy."""

from __future__ import annotations

import uuid
from typing import Any

import yaml
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
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission, Principal, can, ensure
from ..core.errors import DomainError
from ..core.forms import SelectChoice
from ..core.states import state_label
from ..db import get_session, utcnow
from ..orgs.services import default_district
from ..students.chip import chip_fields
from ..students.models import Student
from ..web import flash_error, require
from . import consequences, policy_review, queries, services
from .forms import ConfirmForm, PolicyConfirmForm, PolicyForm, SpecialCareForm, TierForm
from .models import APPLIED, PENDING, DecisionState, TierDecision
from .policy import Policy, current_policy, default_body, policy_for_student

bp = Blueprint("risk", __name__)


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
) -> ResponseReturnValue:
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
    pending = next((d for d in history if d.state == PENDING), None)
    if form is None:
        form = TierForm(formdata=None)  # nothing pre-chosen
    care = None
    if may_care:
        held = services.get_special_care(student)
        if care_form is None:
            care_form = SpecialCareForm(formdata=None, categories=held)
        care_form.categories.choices = _care_choices(policy, held)
        care = {"form": care_form, "labels": [policy.category_label(c, _locale()) for c in held]}
    return render_template(
        "risk/tier.html",
        decision_state=lambda value: state_label(DecisionState(value)),
        applied=APPLIED,
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
        open_crisis=consequences.provided().open_crisis(session, student.id) if pending else None,
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
def student_tier(student_id: uuid.UUID) -> ResponseReturnValue:
    return _tier_page(_student(student_id))


@bp.post("/students/<uuid:student_id>/tier")
@require(Permission.TIER_DECIDE)
def set_tier(student_id: uuid.UUID) -> ResponseReturnValue:
    student = _student(student_id)
    ensure(g.principal, Permission.TIER_DECIDE, student)
    form = TierForm()
    if form.validate_on_submit():
        started = utcnow()
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
            form.reason.errors = [*form.reason.errors, exc.message]
        else:
            # What was done, read back: a step-down only waits (for whom), a rise to red alerts.
            message = consequences.provided().decision_message
            flash(message(get_session(), student, decision, since=started), "success")
            return redirect(url_for("risk.student_tier", student_id=student.id))
    return _tier_page(student, form=form)


@bp.post("/students/<uuid:student_id>/special-care")
@require(Permission.SPECIAL_CARE_MANAGE)
def set_special_care(student_id: uuid.UUID) -> ResponseReturnValue:
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
    return redirect(url_for("workbench.home"))


# --------------------------------------------------------------------------- step-downs


@bp.get("/tier/stepdowns")
@require(Permission.TIER_APPROVE_STEPDOWN, sensitive=True)
def stepdown_queue() -> ResponseReturnValue:
    session = get_session()
    rows = queries.pending_stepdowns(session, g.principal)
    names = queries.display_names(session, [d.decided_by for d, _s in rows])
    schools = queries.school_names(session, {s.school_id for _d, s in rows})
    audit.record(
        session,
        AuditAction.TIER_VIEW,
        object_type="stepdown_queue",
        fields=[
            "tier",
            "tier_reason",
            *chip_fields(g.principal, [s for _d, s in rows], tier=False),
        ],
        detail={"students": [s.id for _d, s in rows]},
    )
    return render_template(
        "risk/stepdowns.html",
        rows=rows,
        names=names,
        schools=schools,
        form=ConfirmForm(),
        me=g.principal.user_id,
        # students whose approval must say what happens to their open crisis
        in_crisis={
            s.id for _d, s in rows if consequences.provided().open_crisis(session, s.id) is not None
        },
    )


STEPDOWN_CLOSED = {
    DecisionState.REJECTED: _l(
        "Step-down declined: the student stays red. No message was sent; the requester sees it "
        "in the tier history."
    ),
    DecisionState.WITHDRAWN: _l("You withdrew your step-down request: the student stays red."),
}


def _decision(decision_id: uuid.UUID) -> TierDecision:
    decision = get_session().get(TierDecision, decision_id)
    if decision is None:
        abort(404)
    return decision


def _stepdown_action(decision_id: uuid.UUID, action: str) -> ResponseReturnValue:
    session = get_session()
    decision = _decision(decision_id)
    student = _student(decision.student_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if action == "approve":
            # The student's open crisis is closed (with a summary) or kept open, as chosen.
            approval = consequences.provided().approve_stepdown(
                session, g.principal, decision.id, crisis_action=request.form.get("crisis"),
                summary=request.form.get("summary"),
            )  # fmt: skip
            flash(consequences.provided().stepdown_message(approval), "success")
        else:
            services.reject_stepdown(session, g.principal, decision)
            flash(str(STEPDOWN_CLOSED[DecisionState(decision.state)]), "success")
    except DomainError as exc:  # the tier's refusals and the crisis's (closing it)
        flash_error(exc)
    target = request.form.get("next", "")
    if target == "tier" and can(g.principal, Permission.TIER_DECIDE, student):
        return redirect(url_for("risk.student_tier", student_id=student.id))
    if can(g.principal, Permission.TIER_APPROVE_STEPDOWN):
        return redirect(url_for("risk.stepdown_queue"))
    return redirect(url_for("risk.student_tier", student_id=student.id))


@bp.post("/tier/stepdowns/<uuid:decision_id>/approve")
@require(Permission.TIER_APPROVE_STEPDOWN)
def approve_stepdown(decision_id: uuid.UUID) -> ResponseReturnValue:
    return _stepdown_action(decision_id, "approve")  # the service checks the student's scope


@bp.post("/tier/stepdowns/<uuid:decision_id>/reject")
@require(Permission.TIER_APPROVE_STEPDOWN)
def reject_stepdown(decision_id: uuid.UUID) -> ResponseReturnValue:
    return _stepdown_action(decision_id, "reject")  # the service checks the student's scope


@bp.post("/tier/stepdowns/<uuid:decision_id>/withdraw")
@require(Permission.TIER_DECIDE)
def withdraw_stepdown(decision_id: uuid.UUID) -> ResponseReturnValue:
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
def policy() -> ResponseReturnValue:
    """Two steps: POST the text → a preview (what changes, or what is wrong); POST
    ``step=confirm`` with the previewed text and its digest → saved as the next version."""
    session = get_session()
    district_id = _district_id(session, g.principal)
    form, confirm = PolicyForm(), PolicyConfirmForm()
    preview, status, secret = None, 200, str(current_app.secret_key)
    if request.method == "POST" and request.form.get("step") == "confirm":
        if not confirm.validate_on_submit():
            abort(400)
        try:
            row = policy_review.confirm_policy(
                session, g.principal, district_id, confirm.body.data or "",
                confirm.digest.data or "", secret=secret,
            )  # fmt: skip
        except policy_review.StalePreview as exc:
            flash_error(exc)
            form.body.data, status = confirm.body.data, exc.status
        else:
            flash(_("Tier policy version %(version)s saved; it is in use from now on. Earlier "
                    "versions stay in the history below.", version=row.version), "success")  # fmt: skip
            return redirect(url_for("risk.policy"))
    if request.method == "POST" and (status == 409 or form.validate_on_submit()):
        preview = policy_review.preview_policy(
            session, g.principal, district_id, form.body.data or "", secret=secret, locale=_locale()
        )
        confirm.body.data, confirm.digest.data = preview.text, preview.digest
    elif request.method == "GET":
        form.body.data = _dump(_shown_body(session, district_id, request.args.get("version")))
    versions = services.policy_versions(session, district_id)
    return render_template(
        "risk/policy.html", form=form, confirm=confirm, preview=preview, versions=versions,
        names=queries.display_names(session, [v.created_by for v in versions]),
        current=current_policy(session, district_id), locale=_locale(), fmt=policy_review,
    ), status  # fmt: skip


def _shown_body(session: Session, district_id: uuid.UUID, wanted: str | None) -> dict[str, Any]:
    """The body loaded into the editor: the current version, or ``?version=N`` (404 if none)."""
    versions = services.policy_versions(session, district_id)
    shown = versions[0] if versions else None
    if wanted is not None:
        shown = next((v for v in versions if str(v.version) == wanted), None)
        if shown is None:
            abort(404)
    return shown.body if shown is not None else default_body()
