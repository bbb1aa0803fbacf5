"""Pages of referrals for the school and the district centre (the partner's portal is
:mod:`.portal`, the admin's partner register :mod:`.admin_views`, the letter and the FHIR
download :mod:`.letter`).

School (psychology teacher): start a referral from the student's record, change it, the
preview of exactly what the partner will see (``minimum.preview``), submit it (consent from the
guardian contact log, or an emergency override for a red-tier student; to the centre, or
straight to a partner for a red-tier student), withdraw it. Centre (counsellor): the queue,
most overdue first; accept, return with a reason, send to a partner, close with an outcome.
Every page that shows a referral reads it through an audited service; every move is one
service call (:mod:`.services`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select

from ..auth.names import user_names
from ..core.authz import Permission, Principal, Role, can
from ..core.errors import DomainError, NotFound
from ..core.states import state_label
from ..crisis.consent import current_consent
from ..crisis.forms import CONSENT_LABELS, RELATION_LABELS
from ..db import get_session, utcnow
from ..labels import instrument_label
from ..orgs.models import District
from ..screening.clock import local_today
from ..screening.models import Response
from ..students.models import Student
from ..web import flash_error, require
from . import admin_views, consent, letter, minimum, notices, partners, queries, services, sla
from .forms import ButtonForm, CloseForm, ReasonForm, ReferralForm, SendForm, SubmitForm
from .models import ACTOR_LABELS, TERMINAL, WITHDRAWABLE, Actor, Referral, ReferralState
from .portal import portal_bp
from .record import (
    LABELS,
    URGENCY_FOR_TIER,
    audit_list,
    audit_student,
    band_name,
    partner_names,
    scale_name,
    state_names,
    student_or_404,
    students_of,
    told_names,
)
from .transitions import actors_of

bp = Blueprint("referrals", __name__)
# The partner's portal is the module's second page blueprint (its own file, its own prefix).
BLUEPRINTS = (portal_bp,)
S = ReferralState
EDITABLE = (S.DRAFT, S.RETURNED)
CLOSABLE = (S.FEEDBACK, S.DECLINED, S.MISSED)
RESPONSE_CHOICES = 20

admin_views.register(bp)
letter.register(bp)


def _detail(referral_id: uuid.UUID) -> ResponseReturnValue:
    return redirect(url_for("referrals.detail", referral_id=referral_id))


# --------------------------------------------------------------------------- the school's form


def _choices(form: ReferralForm, student: Student) -> None:
    rows = get_session().scalars(
        select(Response).where(Response.student_id == student.id, Response.voided.is_(False))
        .order_by(Response.created_at.desc()).limit(RESPONSE_CHOICES)
    ).all()  # fmt: skip
    form.responses.choices = [
        (str(r.id), _("%(name)s on %(date)s", name=instrument_label(r.instrument),
                      date=r.created_at.date().isoformat()))
        for r in rows
    ]  # fmt: skip
    relations = dict(RELATION_LABELS)
    form.guardian.choices = [("", _("The guardian who gave consent"))] + [
        (g_["relation"], f"{g_.get('name') or ''}（{relations.get(g_['relation'], g_['relation'])}）")
        for g_ in (student.guardians or []) if g_.get("relation")
    ]  # fmt: skip


def _input(form: ReferralForm) -> services.ReferralInput:
    return services.ReferralInput(
        reason=form.reason.data or "", internal_reason=form.internal_reason.data or "",
        urgency=form.urgency.data or "routine",
        responses=[uuid.UUID(r) for r in form.responses.data or []],
        answers=bool(form.answers.data), guardian=form.guardian.data or None,
    )  # fmt: skip


@bp.route("/students/<uuid:student_id>/referrals/new", methods=["GET", "POST"])
@require(Permission.REFERRALS_CREATE, sensitive=True)
def new(student_id: uuid.UUID) -> ResponseReturnValue:
    session, principal = get_session(), g.principal
    student = student_or_404(session, principal, Permission.REFERRALS_CREATE, student_id)
    audit_student(session, principal, student, "screening.results", "guardians")
    found = queries.open_referral(session, student.id)
    if found is not None:
        flash(_("This student already has an open referral."), "error")
        return _detail(found.id)
    form = ReferralForm()
    _choices(form, student)
    if request.method == "GET":
        form.urgency.data = URGENCY_FOR_TIER.get(student.tier, "routine")
    if form.validate_on_submit():
        try:
            referral = services.create_draft(session, principal, student.id, _input(form))
        except services.ReferralError as exc:
            flash_error(exc)
        else:
            flash(_("Draft saved. Check what the partner will see, then submit it."), "success")
            return redirect(url_for("referrals.preview", referral_id=referral.id))
    return render_template("referrals/form.html", form=form, student=student, referral=None)


@bp.route("/referrals/<uuid:referral_id>/edit", methods=["GET", "POST"])
@require(Permission.REFERRALS_CREATE, sensitive=True)
def edit(referral_id: uuid.UUID) -> ResponseReturnValue:
    session, principal = get_session(), g.principal
    view = services.read_referral(session, principal, referral_id)
    referral = view.referral
    if Actor.SENDER not in view.actors or referral.state not in EDITABLE:
        flash(_("Only a draft or a returned referral can be changed."), "error")
        return _detail(referral.id)
    if request.method == "GET":
        shared = referral.shared or {}
        form = ReferralForm(data={
            "reason": referral.reason, "internal_reason": referral.internal_reason or "",
            "urgency": referral.urgency, "responses": list(shared.get("responses") or []),
            "answers": bool(shared.get("answers")), "guardian": shared.get("guardian") or "",
        })  # fmt: skip
    else:
        form = ReferralForm()
    _choices(form, view.student)
    if form.validate_on_submit():
        try:
            services.update_draft(session, principal, referral.id, _input(form))
        except services.ReferralError as exc:
            flash_error(exc)
        else:
            flash(_("Referral saved. Check what the partner will see, then submit it."),
                  "success")  # fmt: skip
            return redirect(url_for("referrals.preview", referral_id=referral.id))
    return render_template("referrals/form.html", form=form, student=view.student,
                           referral=referral)  # fmt: skip


# --------------------------------------------------------------------------- preview and submit


def _submit_form(referral: Referral, student: Student) -> SubmitForm:
    form = SubmitForm()
    options = [("", _("No: submit it to the district centre"))]
    if student.tier == 3 and referral.state == S.DRAFT:
        options += [
            (str(p.id), p.name) for p in partners.partners_of(get_session(), referral.district_id)
        ]
    form.partner_id.choices = options
    return form


@bp.get("/referrals/<uuid:referral_id>/preview")
@require(Permission.REFERRALS_CREATE, sensitive=True)
def preview(referral_id: uuid.UUID) -> ResponseReturnValue:
    session, principal, now = get_session(), g.principal, utcnow()
    data = minimum.preview(session, principal, referral_id, now)
    referral = session.get_one(Referral, referral_id)
    student = session.get_one(Student, referral.student_id)
    basis = {
        "referral": consent.valid_entry(session, student, consent.REFERRAL, now),
        "sharing": consent.valid_entry(session, student, consent.SHARING, now)
        if consent.shares_clinical(referral.shared or {}) else None,
        "needs_sharing": consent.shares_clinical(referral.shared or {}),
        # every guardian's latest entry in the log (a refusal by one blocks the referral)
        "log": {purpose: sorted(current_consent(session, student.id, purpose).values(),
                                key=lambda e: e.relation)
                for purpose in consent.PURPOSES},
    }  # fmt: skip
    may_submit = Actor.SENDER in actors_of(principal, referral, now) and (
        referral.state in EDITABLE
    )
    return render_template(
        "referrals/preview.html", referral=referral, student=student, data=data, basis=basis,
        relations=dict(RELATION_LABELS), decisions=dict(CONSENT_LABELS), labels=LABELS,
        may_submit=may_submit,
        scale_name=scale_name, band_name=band_name,
        form=_submit_form(referral, student), state=state_label(S(referral.state)),
    )  # fmt: skip


@bp.post("/referrals/<uuid:referral_id>/submit")
@require(Permission.REFERRALS_CREATE)
def submit(referral_id: uuid.UUID) -> ResponseReturnValue:
    session, principal = get_session(), g.principal
    referral = services.load(session, principal, referral_id, utcnow())
    form = _submit_form(referral, session.get_one(Student, referral.student_id))
    if not form.validate_on_submit():
        flash(_("Choose a listed partner, or none."), "error")
        return redirect(url_for("referrals.preview", referral_id=referral_id))
    override = (form.override_reason.data or "").strip() or None
    try:
        if form.partner_id.data:
            services.send(session, principal, referral_id, uuid.UUID(form.partner_id.data),
                          override_reason=override)  # fmt: skip
            whom: tuple[str, ...] = (Actor.PARTNER, Actor.CENTRE)
            message = _("Sent straight to the partner; the district centre was told at once.")
        else:
            services.submit(session, principal, referral_id, override_reason=override)
            whom, message = (Actor.CENTRE,), _("Submitted to the district centre.")
    except NotFound:
        raise
    except DomainError as exc:
        flash_error(exc)
        return redirect(url_for("referrals.preview", referral_id=referral_id))
    parts = [message]
    if referral.override_at is not None:
        whom = (*whom, notices.LEADER)
        parts.append(_("Recorded as an emergency override, not as consent."))
    told = told_names(session, referral, whom, principal.user_id)
    parts.append(_("Told: %(names)s.", names=list_join(told)) if told
                 else _("Nobody else could be told: nobody holds that role yet."))  # fmt: skip
    flash(sentences(parts), "success")
    return _detail(referral_id)


def list_join(names: list[str]) -> str:
    return ("、" if str(get_locale() or "zh").startswith("zh") else ", ").join(names)


def sentences(parts: list[str]) -> str:
    """Sentences one after the other: a space after a Western full stop, none after 。."""
    return "".join(p if i == 0 or parts[i - 1].endswith("。") else " " + p
                   for i, p in enumerate(parts))  # fmt: skip


# --------------------------------------------------------------------------- moves


def _move(
    referral_id: uuid.UUID, form: FlaskForm, call: Callable[[], object], done: str
) -> ResponseReturnValue:
    """Run one move (``call()``) if ``form`` validates; 404 stays a 404, a refusal is flashed."""
    if form.validate_on_submit():
        try:
            call()
        except NotFound:
            raise
        except DomainError as exc:
            flash_error(exc)
        else:
            flash(done, "success")
    else:
        flash(_("Some fields need attention: nothing was changed."), "error")
    return _detail(referral_id)


@bp.post("/referrals/<uuid:referral_id>/withdraw")
@require(Permission.REFERRALS_CREATE)
def withdraw(referral_id: uuid.UUID) -> ResponseReturnValue:
    form = ReasonForm()
    return _move(referral_id, form, lambda: services.withdraw(
        get_session(), g.principal, referral_id, form.reason.data or ""),
        _("Referral withdrawn. The centre and any partner were told; the partner no longer "
          "sees it."))  # fmt: skip


@bp.post("/referrals/<uuid:referral_id>/accept")
@require(Permission.REFERRALS_TRIAGE)
def accept(referral_id: uuid.UUID) -> ResponseReturnValue:
    return _move(referral_id, ButtonForm(),
                 lambda: services.accept(get_session(), g.principal, referral_id),
                 _("Referral accepted. Send it to a partner next."))  # fmt: skip


@bp.post("/referrals/<uuid:referral_id>/return")
@require(Permission.REFERRALS_TRIAGE)
def return_(referral_id: uuid.UUID) -> ResponseReturnValue:
    form = ReasonForm()
    return _move(referral_id, form, lambda: services.return_to_school(
        get_session(), g.principal, referral_id, form.reason.data or ""),
        _("Referral returned to the school with your reason."))  # fmt: skip


@bp.post("/referrals/<uuid:referral_id>/send")
@require(Permission.REFERRALS_TRIAGE)
def send(referral_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    referral = services.load(session, g.principal, referral_id, utcnow())
    form = SendForm()
    form.partner_id.choices = _partner_choices(referral)
    return _move(referral_id, form, lambda: services.send(
        session, g.principal, referral_id, uuid.UUID(form.partner_id.data or "")),
        _("Referral sent to the partner. Its liaisons and the school were told."))  # fmt: skip


@bp.post("/referrals/<uuid:referral_id>/close")
@require(Permission.REFERRALS_READ)
def close(referral_id: uuid.UUID) -> ResponseReturnValue:
    form = CloseForm()
    return _move(referral_id, form, lambda: services.close(
        get_session(), g.principal, referral_id, form.outcome.data or "",
        reason=form.reason.data or None), _("Referral closed."))  # fmt: skip


def _partner_choices(referral: Referral) -> list[tuple[str, str]]:
    declined = set(referral.declined_by or [])
    return [(str(p.id), p.name) for p in partners.partners_of(get_session(), referral.district_id)
            if str(p.id) not in declined]  # fmt: skip


# --------------------------------------------------------------------------- reading


def _may(principal: Principal, view: services.ReferralView) -> dict[str, bool]:
    state, actors = S(view.referral.state), view.actors
    sender, centre = Actor.SENDER in actors, Actor.CENTRE in actors
    return {
        "edit": sender and state in EDITABLE,
        "withdraw": sender and state in WITHDRAWABLE,
        "accept": centre and state == S.SUBMITTED,
        "return": centre and state in (S.SUBMITTED, S.ACCEPTED, S.DECLINED),
        "send": centre and state in (S.ACCEPTED, S.DECLINED),
        "close": (centre and state in CLOSABLE) or (sender and state == S.FEEDBACK),
        "documents": bool(actors & {Actor.SENDER, Actor.CENTRE}),
        # The partner's feedback in full: the psychology teachers and the centre; leaders
        # read that it came and when.
        "feedback": bool(actors & {Actor.SENDER, Actor.CENTRE}),
    }


@bp.get("/referrals/<uuid:referral_id>")
@require(Permission.REFERRALS_READ, sensitive=True)
def detail(referral_id: uuid.UUID) -> ResponseReturnValue:
    session, principal = get_session(), g.principal
    view = services.read_referral(session, principal, referral_id)
    referral = view.referral
    may = _may(principal, view)
    send_form = SendForm()
    send_form.partner_id.choices = _partner_choices(referral) if may["send"] else []
    names = user_names(session, {e.by_id for e in view.events} | {referral.created_by})
    return render_template(
        "referrals/detail.html", view=view, referral=referral, student=view.student, may=may,
        state=state_label(S(referral.state)), states={s.value: state_label(s) for s in S},
        partners=partner_names(session, {referral.partner_id, *(e.partner_id for e in view.events)}),
        names=names, labels=LABELS, reason_form=ReasonForm(), button=ButtonForm(),
        send_form=send_form, close_form=CloseForm(), overdue=sla.overdue_by(referral, utcnow()),
        actor_labels=ACTOR_LABELS, terminal=referral.state in TERMINAL,
    )  # fmt: skip


@bp.get("/referrals")
@require(Permission.REFERRALS_READ, sensitive=True)
def index() -> ResponseReturnValue:
    """The centre's queue (counsellors) or the school's referrals (school staff)."""
    session, principal, now = get_session(), g.principal, utcnow()
    centre = can(principal, Permission.REFERRALS_TRIAGE)
    rows: list[Referral] = []
    overdue: dict[uuid.UUID, object] = {}
    if centre:
        for district_id in _districts(principal):
            for row in queries.centre_queue(session, district_id, now):
                rows.append(row.referral)
                overdue[row.referral.id] = row.overdue
    else:
        for school_id in {
            s.school_id
            for s in principal.scopes
            if s.school_id
            and s.role in (Role.PSYCH_TEACHER, Role.SCHOOL_LEADER)
            and s.class_id is None
        }:
            rows += queries.school_referrals(session, school_id)
    students = students_of(session, rows)
    audit_list(session, principal, "referral_queue" if centre else "school_referrals",
               list(students.values()))  # fmt: skip
    return render_template(
        "referrals/index.html", rows=rows, students=students, states=state_names(rows),
        partners=partner_names(session, {r.partner_id for r in rows}), overdue=overdue,
        centre=centre, labels=LABELS, today=local_today(now), now=now,
    )  # fmt: skip


def _districts(principal: Principal) -> list[uuid.UUID]:
    """The districts whose queue a counsellor sees (a district-wide scope: every district)."""
    ids = {s.district_id for s in principal.scopes if s.role == Role.COUNSELLOR}
    if None in ids:
        ids = set(get_session().scalars(select(District.id)))
    return sorted(i for i in ids if i is not None)
