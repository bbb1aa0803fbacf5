from wellbeing.core.authz import Role

from ..conftest import login
from ..factories import PASSWORD, make_school, make_user


def test_login_form_signs_in_and_audits(client, db_session, env, audit_entries):
    school = make_school(db_session)
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school, username="lin")
    db_session.flush()
    response = client.post("/login", data={"username": "lin", "password": PASSWORD})
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert "psych_teacher user" in home.get_data(as_text=True)
    assert [e.actor_user_id for e in audit_entries(action="auth:session:login")] == [user.id]


def test_wrong_password_is_refused_and_recorded(client, db_session, env, audit_entries):
    make_user(
        db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session), username="wu"
    )
    response = client.post("/login", data={"username": "wu", "password": "nope-nope-1"})
    assert response.status_code == 200
    assert client.get("/").status_code == 302
    assert len(audit_entries(action="auth:session:login_failed")) == 1


def test_logout_kills_copied_cookie(client, app, db_session, env):
    user = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=make_school(db_session))
    login(client, user)
    cookie = client.get_cookie("wellbeing_session")
    assert client.get("/").status_code == 200
    assert client.post("/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie("wellbeing_session", cookie.value)
    assert thief.get("/").status_code == 302
