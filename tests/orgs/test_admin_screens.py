"""Administration screens: schools, classes, users and memberships, all audited; bad input is
shown on the form and writes nothing."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from wellbeing.auth.models import Membership, User, UserSession
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.orgs.models import School, SchoolClass

from ..conftest import CsrfClient, login
from ..factories import PASSWORD, make_class, make_school, make_user


def _admin(client, db_session, env):  # type: ignore[no-untyped-def]
    admin = make_user(db_session, env.settings, Role.ADMIN)
    admin.locale = "en"  # assertions read English messages
    login(client, admin)
    return admin


def test_create_and_edit_school(client, db_session, env, audit_entries):
    _admin(client, db_session, env)
    response = client.post("/admin/schools/new", data={"code": "HX-02", "name": "红星中学"})
    assert response.status_code == 302
    school = db_session.scalars(select(School).where(School.code == "HX-02")).one()
    assert [e.object_id for e in audit_entries(AuditAction.SCHOOL_CREATE)][-1] == str(school.id)
    assert "红星中学" in client.get("/admin/schools").get_data(as_text=True)

    edit = client.post(
        f"/admin/schools/{school.id}", data={"name": "红星实验中学"}
    )  # active unticked
    assert edit.status_code == 302
    db_session.expire_all()
    assert (school.name, school.active) == ("红星实验中学", False)
    assert audit_entries(AuditAction.SCHOOL_UPDATE)[-1].fields == ["active", "name"]


def test_bad_school_input_writes_nothing(client, db_session, env, audit_entries):
    _admin(client, db_session, env)
    existing = make_school(db_session, code="DUP1")
    before = len(audit_entries(AuditAction.SCHOOL_CREATE))
    duplicate = client.post("/admin/schools/new", data={"code": "DUP1", "name": "另一所"})
    assert duplicate.status_code == 400
    assert "already exists" in duplicate.get_data(as_text=True)
    bad_code = client.post("/admin/schools/new", data={"code": "有空 格", "name": "学校"})
    assert bad_code.status_code == 400
    assert (
        db_session.scalar(select(func.count()).select_from(School).where(School.name == "另一所"))
        == 0
    )
    assert len(audit_entries(AuditAction.SCHOOL_CREATE)) == before
    assert client.post(f"/admin/schools/{existing.id}", data={"name": ""}).status_code == 400


def test_create_class_and_refuse_bad_ones(client, db_session, env, audit_entries):
    _admin(client, db_session, env)
    school = make_school(db_session)
    ok = client.post(f"/admin/schools/{school.id}/classes", data={"grade": "9", "label": "5班"})
    assert ok.status_code == 302
    classes = db_session.scalars(
        select(SchoolClass).where(SchoolClass.school_id == school.id)
    ).all()
    assert [(c.grade, c.label) for c in classes] == [(9, "5班")]
    assert audit_entries(AuditAction.CLASS_CREATE)[-1].detail == {"grade": 9}
    again = client.post(f"/admin/schools/{school.id}/classes", data={"grade": "9", "label": "5班"})
    assert again.status_code == 400 and "already exists" in again.get_data(as_text=True)
    assert (
        client.post(
            f"/admin/schools/{school.id}/classes", data={"grade": "13", "label": "1班"}
        ).status_code
        == 400
    )
    page = client.get(f"/admin/schools/{school.id}").get_data(as_text=True)
    assert "5班" in page


def test_create_user_with_role_and_scope(client, db_session, env, audit_entries):
    _admin(client, db_session, env)
    school = make_school(db_session)
    klass = make_class(db_session, school, 7, "2班")
    response = client.post("/admin/users/new", data={
        "username": "Wang.Li", "display_name": "王丽", "email": "wl@example.cn", "password": PASSWORD,
        "role": "class_teacher", "school": "", "school_class": str(klass.id),
    })  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)
    user = db_session.scalars(select(User).where(User.username == "wang.li")).one()
    [membership] = user.memberships
    assert (membership.role, membership.school_id, membership.class_id) == (
        "class_teacher",
        school.id,
        klass.id,
    )
    assert audit_entries(AuditAction.USER_CREATE)[-1].object_id == str(user.id)
    assert audit_entries(AuditAction.MEMBERSHIP_GRANT)[-1].detail["role"] == "class_teacher"
    assert "wang.li" in client.get("/admin/users").get_data(as_text=True)


def test_refused_membership_rolls_back_the_new_user(client, db_session, env):
    _admin(client, db_session, env)
    school = make_school(db_session)
    cases = [
        {"role": "class_teacher", "school": str(school.id), "school_class": ""},  # no class
        {"role": "psych_teacher", "school": "", "school_class": ""},  # no school
        {"role": "counsellor", "school": str(school.id), "school_class": ""},  # district role
    ]
    for scope in cases:
        data = {"username": "half.made", "password": PASSWORD, **scope}
        assert client.post("/admin/users/new", data=data).status_code == 400
        assert db_session.scalar(select(func.count()).where(User.username == "half.made")) == 0
    weak = {
        "username": "weak.pw",
        "password": "abcdefghijk",
        "role": "counsellor",
        "school": "",
        "school_class": "",
    }
    response = client.post("/admin/users/new", data=weak)
    assert response.status_code == 400 and "letters and digits" in response.get_data(as_text=True)


def _other_client(app):  # type: ignore[no-untyped-def]
    app.test_client_class = CsrfClient
    return app.test_client()


def test_disable_ends_sessions_and_enable_restores(app, client, db_session, env, audit_entries):
    admin = _admin(client, db_session, env)
    teacher = make_user(
        db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session)
    )
    teacher_client = _other_client(app)
    login(teacher_client, teacher)
    assert teacher_client.get("/").status_code == 200

    assert client.post(f"/admin/users/{teacher.id}/active", data={"active": "0"}).status_code == 302
    assert teacher_client.get("/").status_code == 302  # the copied cookie is dead at once
    live = select(func.count()).where(
        UserSession.user_id == teacher.id, UserSession.revoked_at.is_(None)
    )
    assert db_session.scalar(live) == 0
    assert audit_entries(AuditAction.USER_DISABLE)[-1].object_id == str(teacher.id)

    assert client.post(f"/admin/users/{teacher.id}/active", data={"active": "1"}).status_code == 302
    db_session.expire_all()
    assert teacher.active
    # An administrator cannot lock themselves out.
    assert client.post(f"/admin/users/{admin.id}/active", data={"active": "0"}).status_code == 302
    db_session.expire_all()
    assert admin.active


def test_grant_and_revoke_memberships(app, client, db_session, env, audit_entries):
    _admin(client, db_session, env)
    own, other = make_school(db_session), make_school(db_session)
    leader = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=own)
    url = f"/admin/users/{leader.id}/memberships"
    grant = {"role": "school_leader", "school": str(other.id), "school_class": ""}
    assert client.post(url, data=grant).status_code == 302
    assert client.post(url, data=grant).status_code == 400  # already has it
    memberships = db_session.scalars(
        select(Membership).where(Membership.user_id == leader.id)
    ).all()
    assert {m.school_id for m in memberships} == {own.id, other.id}

    leader_client = _other_client(app)
    db_session.refresh(leader)  # login() merges the user: it must carry both memberships
    login(leader_client, leader)
    target = next(m.id for m in memberships if m.school_id == other.id)
    assert client.post(f"{url}/{target}/revoke").status_code == 302
    assert leader_client.get("/").status_code == 302  # revoking ends the sessions
    remaining = db_session.scalars(
        select(Membership.school_id).where(Membership.user_id == leader.id)
    ).all()
    assert remaining == [own.id]
    assert audit_entries(AuditAction.MEMBERSHIP_REVOKE)[-1].object_id == str(target)
    assert client.post(f"{url}/{target}/revoke").status_code == 404


def test_new_user_form_preselects_no_role(client, db_session, env):
    """A missed role field must not grant the first role's access to children's records."""
    _admin(client, db_session, env)
    page = client.get("/admin/users/new").get_data(as_text=True)
    role_select = re.search(r'<select[^>]*name="role"[^>]*>.*?</select>', page, re.S)
    assert role_select is not None and "selected" not in role_select.group(0)
    response = client.post("/admin/users/new", data={
        "username": "no.role", "display_name": "无角色", "email": "nr@example.cn",
        "password": PASSWORD, "school": "", "school_class": "",
    })  # fmt: skip
    assert response.status_code == 400  # this module's refused forms answer 400
    assert "Choose a role." in response.get_data(as_text=True)
    assert db_session.scalar(select(User).where(User.username == "no.role")) is None
