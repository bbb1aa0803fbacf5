"""Administration screens: schools, classes, users and their memberships (admins only).

Every change goes through ``orgs.services`` / ``auth.admin`` (which check the policy and audit).
Refused input re-renders the form with status 400, so the request's transaction is rolled back
and nothing is written. The blueprint keeps the name ``orgs`` (endpoints ``orgs.schools``,
``orgs.user_detail``, ...) and the templates ``templates/orgs/`` it had when these pages lived
in the ``orgs`` module; the URLs are ``/admin/...``.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from ..auth import admin as users
from ..auth.models import User
from ..auth.services import PasswordPolicyError
from ..core.authz import Permission as P
from ..core.authz import Role
from ..core.errors import DomainError
from ..db import get_session
from ..orgs import services
from ..orgs.labels import class_label, school_label
from ..orgs.models import School, SchoolClass
from ..orgs.services import OrgError
from ..web import flash_error, require
from . import queries
from .forms import (
    ROLE_LABELS,
    ActiveForm,
    ClassForm,
    ConfirmForm,
    MembershipForm,
    SchoolEditForm,
    SchoolForm,
    UserCreateForm,
)

bp = Blueprint("orgs", __name__, url_prefix="/admin")


REFUSED = 400


def _school_or_404(school_id: uuid.UUID) -> School:
    school = get_session().get(School, school_id)
    if school is None:
        abort(404)
    return school


def _user_or_404(user_id: uuid.UUID) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


def _refused(form: FlaskForm, exc: DomainError, field: str) -> None:
    """Show a service's refusal on the form, on ``field`` (in the reader's language)."""
    getattr(form, field).errors = [*getattr(form, field).errors, exc.message]


# --------------------------------------------------------------------------- schools


@bp.get("/schools")
@require(P.SCHOOLS_MANAGE)
def schools() -> ResponseReturnValue:
    return render_template("orgs/schools.html", rows=queries.schools_overview(get_session()))


@bp.route("/schools/new", methods=["GET", "POST"])
@require(P.SCHOOLS_MANAGE)
def school_new() -> ResponseReturnValue:
    form = SchoolForm()
    if form.validate_on_submit():  # validated: required fields are strings (`or ""` for mypy)
        try:
            school = services.create_school(
                get_session(), g.principal, form.code.data or "", form.name.data or ""
            )
        except OrgError as exc:
            _refused(form, exc, "code")
        else:
            flash(_("School %(code)s created.", code=school.code), "success")
            return redirect(url_for("orgs.school_edit", school_id=school.id))
    status = REFUSED if form.is_submitted() else 200
    return render_template("orgs/school_new.html", form=form), status


def _school_page(
    school: School, form: SchoolEditForm, class_form: ClassForm, status: int = 200
) -> ResponseReturnValue:
    classes = queries.school_classes(get_session(), school.id)
    return render_template(
        "orgs/school_edit.html", school=school, form=form, class_form=class_form, classes=classes
    ), status


@bp.route("/schools/<uuid:school_id>", methods=["GET", "POST"])
@require(P.SCHOOLS_MANAGE)
def school_edit(school_id: uuid.UUID) -> ResponseReturnValue:
    school = _school_or_404(school_id)
    form = SchoolEditForm(obj=school)
    if form.validate_on_submit():
        try:
            services.update_school(
                get_session(), g.principal, school, form.name.data or "", form.active.data
            )
        except OrgError as exc:
            _refused(form, exc, "name")
        else:
            flash(_("School saved."), "success")
            return redirect(url_for("orgs.school_edit", school_id=school.id))
    status = REFUSED if form.is_submitted() else 200
    return _school_page(school, form, ClassForm(formdata=None), status)


@bp.post("/schools/<uuid:school_id>/classes")
@require(P.SCHOOLS_MANAGE)
def class_new(school_id: uuid.UUID) -> ResponseReturnValue:
    school = _school_or_404(school_id)
    class_form = ClassForm()
    if class_form.validate_on_submit():
        try:
            services.create_class(
                get_session(),
                g.principal,
                school,
                class_form.grade.data,
                class_form.label.data or "",
            )
        except OrgError as exc:
            _refused(class_form, exc, "label")
        else:
            flash(_("Class created."), "success")
            return redirect(url_for("orgs.school_edit", school_id=school.id))
    return _school_page(school, SchoolEditForm(formdata=None, obj=school), class_form, REFUSED)


# --------------------------------------------------------------------------- users


def _scope_choices(form: UserCreateForm | MembershipForm) -> None:
    session = get_session()
    schools = [(str(s.id), school_label(s)) for s in queries.all_schools(session)]
    classes = [
        (str(c.id), f"{s.name} · {class_label(c.grade, c.label)}")
        for c, s in queries.all_classes(session)
    ]
    form.set_choices(schools, classes)


def _scope_objects(
    form: UserCreateForm | MembershipForm,
) -> tuple[School | None, SchoolClass | None]:
    session = get_session()
    school = session.get(School, uuid.UUID(form.school.data)) if form.school.data else None
    klass = (
        session.get(SchoolClass, uuid.UUID(form.school_class.data))
        if form.school_class.data
        else None
    )
    return school, klass


@bp.get("/users")
@require(P.USERS_MANAGE)
def users_list() -> ResponseReturnValue:
    session = get_session()
    school_names, class_names = queries.names_by_id(session)
    return render_template(
        "orgs/users.html", users=queries.users_page(session), role_labels=ROLE_LABELS,
        school_names=school_names, class_names=class_names,
    )  # fmt: skip


@bp.route("/users/new", methods=["GET", "POST"])
@require(P.USERS_MANAGE)
def user_new() -> ResponseReturnValue:
    form = UserCreateForm()
    _scope_choices(form)
    if form.validate_on_submit():
        session = get_session()
        school, klass = _scope_objects(form)
        try:
            user = users.create_user(
                session, g.principal, current_app.extensions["wellbeing.settings"],
                username=form.username.data or "", password=form.password.data or "",
                display_name=form.display_name.data or None, email=form.email.data or None,
            )  # fmt: skip
        except (OrgError, PasswordPolicyError) as exc:
            _refused(form, exc, "password" if isinstance(exc, PasswordPolicyError) else "username")
        else:
            try:
                users.grant_membership(
                    session,
                    g.principal,
                    user,
                    Role(form.role.data),
                    school=school,
                    school_class=klass,
                )
            except OrgError as exc:
                _refused(form, exc, "role")  # 400: the user created above is rolled back too
            else:
                flash(_("User %(name)s created.", name=user.username), "success")
                return redirect(url_for("orgs.user_detail", user_id=user.id))
    status = REFUSED if form.is_submitted() else 200
    return render_template("orgs/user_new.html", form=form), status


def _user_page(
    user: User, membership_form: MembershipForm, status: int = 200
) -> ResponseReturnValue:
    school_names, class_names = queries.names_by_id(get_session())
    return render_template(
        "orgs/user_detail.html", user=user, form=membership_form, role_labels=ROLE_LABELS,
        school_names=school_names, class_names=class_names, confirm=ConfirmForm(),
        active_form=ActiveForm(formdata=None, active="1" if not user.active else "0"),
    ), status  # fmt: skip


@bp.get("/users/<uuid:user_id>")
@require(P.USERS_MANAGE)
def user_detail(user_id: uuid.UUID) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    form = MembershipForm(formdata=None)
    _scope_choices(form)
    return _user_page(user, form)


@bp.post("/users/<uuid:user_id>/active")
@require(P.USERS_MANAGE)
def user_active(user_id: uuid.UUID) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    form = ActiveForm()
    if not form.validate_on_submit():
        abort(400)
    active = form.active.data == "1"
    try:
        users.set_active(get_session(), g.principal, user, active)
    except OrgError as exc:
        flash_error(exc)
        return redirect(url_for("orgs.user_detail", user_id=user.id))
    flash(
        _("Account enabled.") if active else _("Account disabled; its sessions have ended."),
        "success",
    )
    return redirect(url_for("orgs.user_detail", user_id=user.id))


@bp.post("/users/<uuid:user_id>/memberships")
@require(P.USERS_MANAGE)
def membership_grant(user_id: uuid.UUID) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    form = MembershipForm()
    _scope_choices(form)
    if form.validate_on_submit():
        school, klass = _scope_objects(form)
        try:
            users.grant_membership(
                get_session(),
                g.principal,
                user,
                Role(form.role.data),
                school=school,
                school_class=klass,
            )
        except OrgError as exc:
            _refused(form, exc, "role")
        else:
            flash(_("Role granted."), "success")
            return redirect(url_for("orgs.user_detail", user_id=user.id))
    return _user_page(user, form, REFUSED)


@bp.post("/users/<uuid:user_id>/memberships/<uuid:membership_id>/revoke")
@require(P.USERS_MANAGE)
def membership_revoke(user_id: uuid.UUID, membership_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    membership = queries.membership(session, user_id, membership_id)
    if membership is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        users.revoke_membership(session, g.principal, membership)
    except OrgError as exc:
        flash_error(exc)
    else:
        flash(_("Role revoked; the user's sessions have ended."), "success")
    return redirect(url_for("orgs.user_detail", user_id=user_id))
