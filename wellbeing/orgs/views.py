"""Administration screens: schools, classes, users and their memberships (admins only).

Every change goes through ``orgs.services`` / ``auth.admin`` (which check the policy and audit).
Refused input re-renders the form with status 400, so the request's transaction is rolled back
and nothing is written.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..auth import admin as users
from ..auth.models import User
from ..auth.services import PasswordPolicyError
from ..core.authz import Permission as P
from ..core.authz import Role
from ..db import get_session
from ..ui import nav_item
from ..web import require
from . import queries, services
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
from .labels import class_label, school_label
from .models import School, SchoolClass
from .services import OrgError

bp = Blueprint("orgs", __name__, url_prefix="/admin")

nav_item("orgs.schools", _l("Schools"), P.SCHOOLS_MANAGE, 80)
nav_item("orgs.users_list", _l("Users"), P.USERS_MANAGE, 81)

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


def _refused(form, exc: Exception, field: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """Show a service's refusal on the form (on ``field`` when given, else above it)."""
    message = str(exc)
    if field is not None:
        getattr(form, field).errors = [*getattr(form, field).errors, message]
    else:
        flash(message, "error")


# --------------------------------------------------------------------------- schools


@bp.get("/schools")
@require(P.SCHOOLS_MANAGE)
def schools():  # type: ignore[no-untyped-def]
    return render_template("orgs/schools.html", rows=queries.schools_overview(get_session()))


@bp.route("/schools/new", methods=["GET", "POST"])
@require(P.SCHOOLS_MANAGE)
def school_new():  # type: ignore[no-untyped-def]
    form = SchoolForm()
    if form.validate_on_submit():
        try:
            school = services.create_school(
                get_session(), g.principal, form.code.data, form.name.data
            )
        except OrgError as exc:
            _refused(form, exc, "code")
        else:
            flash(_("School %(code)s created.", code=school.code), "success")
            return redirect(url_for("orgs.school_edit", school_id=school.id))
    status = REFUSED if form.is_submitted() else 200
    return render_template("orgs/school_new.html", form=form), status


def _school_page(school: School, form: SchoolEditForm, class_form: ClassForm, status: int = 200):  # type: ignore[no-untyped-def]
    classes = queries.school_classes(get_session(), school.id)
    return render_template(
        "orgs/school_edit.html", school=school, form=form, class_form=class_form, classes=classes
    ), status


@bp.route("/schools/<uuid:school_id>", methods=["GET", "POST"])
@require(P.SCHOOLS_MANAGE)
def school_edit(school_id: uuid.UUID):  # type: ignore[no-untyped-def]
    school = _school_or_404(school_id)
    form = SchoolEditForm(obj=school)
    if form.validate_on_submit():
        try:
            services.update_school(
                get_session(), g.principal, school, form.name.data, form.active.data
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
def class_new(school_id: uuid.UUID):  # type: ignore[no-untyped-def]
    school = _school_or_404(school_id)
    class_form = ClassForm()
    if class_form.validate_on_submit():
        try:
            services.create_class(
                get_session(), g.principal, school, class_form.grade.data, class_form.label.data
            )
        except OrgError as exc:
            _refused(class_form, exc, "label")
        else:
            flash(_("Class created."), "success")
            return redirect(url_for("orgs.school_edit", school_id=school.id))
    return _school_page(school, SchoolEditForm(formdata=None, obj=school), class_form, REFUSED)


# --------------------------------------------------------------------------- users


def _scope_choices(form) -> None:  # type: ignore[no-untyped-def]
    session = get_session()
    schools = [(str(s.id), school_label(s)) for s in queries.all_schools(session)]
    classes = [
        (str(c.id), f"{s.name} · {class_label(c.grade, c.label)}")
        for c, s in queries.all_classes(session)
    ]
    form.set_choices(schools, classes)


def _scope_objects(form) -> tuple[School | None, SchoolClass | None]:  # type: ignore[no-untyped-def]
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
def users_list():  # type: ignore[no-untyped-def]
    session = get_session()
    school_names, class_names = queries.names_by_id(session)
    return render_template(
        "orgs/users.html", users=queries.users_page(session), role_labels=ROLE_LABELS,
        school_names=school_names, class_names=class_names,
    )  # fmt: skip


@bp.route("/users/new", methods=["GET", "POST"])
@require(P.USERS_MANAGE)
def user_new():  # type: ignore[no-untyped-def]
    form = UserCreateForm()
    _scope_choices(form)
    if form.validate_on_submit():
        session = get_session()
        school, klass = _scope_objects(form)
        try:
            user = users.create_user(
                session, g.principal, current_app.extensions["wellbeing.settings"],
                username=form.username.data, password=form.password.data,
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


def _user_page(user: User, membership_form: MembershipForm, status: int = 200):  # type: ignore[no-untyped-def]
    school_names, class_names = queries.names_by_id(get_session())
    return render_template(
        "orgs/user_detail.html", user=user, form=membership_form, role_labels=ROLE_LABELS,
        school_names=school_names, class_names=class_names, confirm=ConfirmForm(),
        active_form=ActiveForm(formdata=None, active="1" if not user.active else "0"),
    ), status  # fmt: skip


@bp.get("/users/<uuid:user_id>")
@require(P.USERS_MANAGE)
def user_detail(user_id: uuid.UUID):  # type: ignore[no-untyped-def]
    user = _user_or_404(user_id)
    form = MembershipForm(formdata=None)
    _scope_choices(form)
    return _user_page(user, form)


@bp.post("/users/<uuid:user_id>/active")
@require(P.USERS_MANAGE)
def user_active(user_id: uuid.UUID):  # type: ignore[no-untyped-def]
    user = _user_or_404(user_id)
    form = ActiveForm()
    if not form.validate_on_submit():
        abort(400)
    active = form.active.data == "1"
    try:
        users.set_active(get_session(), g.principal, user, active)
    except OrgError as exc:
        flash(str(exc), "error")
        return redirect(url_for("orgs.user_detail", user_id=user.id))
    flash(
        _("Account enabled.") if active else _("Account disabled; its sessions have ended."),
        "success",
    )
    return redirect(url_for("orgs.user_detail", user_id=user.id))


@bp.post("/users/<uuid:user_id>/memberships")
@require(P.USERS_MANAGE)
def membership_grant(user_id: uuid.UUID):  # type: ignore[no-untyped-def]
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
def membership_revoke(user_id: uuid.UUID, membership_id: uuid.UUID):  # type: ignore[no-untyped-def]
    session = get_session()
    membership = queries.membership(session, user_id, membership_id)
    if membership is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        users.revoke_membership(session, g.principal, membership)
    except OrgError as exc:
        flash(str(exc), "error")
    else:
        flash(_("Role revoked; the user's sessions have ended."), "success")
    return redirect(url_for("orgs.user_detail", user_id=user_id))
