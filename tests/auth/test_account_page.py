"""The account page names the user's roles in the user's language, never by their codes."""

from __future__ import annotations

import re

from wellbeing.auth.admin import grant_membership
from wellbeing.core.authz import Role

from ..conftest import login
from ..factories import make_school, make_user


def _roles(html: str) -> str:
    match = re.search(r'data-testid="roles">([^<]*)<', html)
    assert match, html
    return match[1]


def test_roles_are_shown_by_name_in_the_user_language(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    grant_membership(db_session, None, user, Role.SCHOOL_LEADER, school=school)
    db_session.flush()
    login(client, user)
    assert _roles(client.get("/account").get_data(as_text=True)) == (
        "Psychology teacher, School leader"
    )
    user.locale = "zh_CN"
    db_session.flush()
    roles = _roles(client.get("/account").get_data(as_text=True))
    assert "心理教师" in roles and "分管校长" in roles
    assert "psych_teacher" not in roles and "school_leader" not in roles


def test_token_scopes_are_shown_by_label_never_by_code(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    login(client, user)
    created = client.post(
        "/account/tokens",
        data={"name": "survey", "scopes": ["alerts:read", "students:read"], "days": "30"},
    )
    assert created.status_code == 200
    for locale, labels in (("en", ("Read your alerts", "Look up students you are responsible for")),
                           ("zh_CN", ("读取您的预警", "查询您负责的学生"))):  # fmt: skip
        user.locale = locale
        db_session.flush()
        html = client.get("/account/tokens").get_data(as_text=True)
        listed = re.search(r'data-testid="token-scopes">(.*?)</ul>', html, re.S)
        assert listed and all(label in listed[1] for label in labels), html
        # Each scope's code appears only as a checkbox value, never as text for the reader.
        for code in ("alerts:read", "students:read", "followups:read", "screening:"):
            assert html.count(code) == html.count(f'value="{code}'), code
