"""The admin's policy editor (issue 12, item 21): preview → confirm, a diff by setting with
labels, the confirm saves exactly the previewed text, translated errors naming the setting,
labelled policy tables."""

from __future__ import annotations

import re

import pytest
import yaml
from sqlalchemy import select

from wellbeing.auth.models import User
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.risk.models import DistrictPolicy
from wellbeing.risk.policy import current_policy, default_body
from wellbeing.risk.services import save_policy

from ..conftest import login
from ..factories import make_school, make_user


@pytest.fixture
def admin(db_session, env):  # type: ignore[no-untyped-def]
    make_school(db_session)
    return make_user(db_session, env.settings, Role.ADMIN)


def _text(body) -> str:  # type: ignore[no-untyped-def]
    return yaml.safe_dump(body, allow_unicode=True, sort_keys=False)


def _digest(html: str) -> str:
    match = re.search(r'name="digest"[^>]*value="([0-9a-f]{64})"', html) or re.search(
        r'value="([0-9a-f]{64})"[^>]*name="digest"', html
    )
    assert match, "the preview has no confirm form"
    return match.group(1)


def _versions(db_session) -> list[int]:  # type: ignore[no-untyped-def]
    db_session.expire_all()
    return [v.version for v in db_session.scalars(select(DistrictPolicy))]


def test_policy_tables_show_labels_not_codes(client, admin):
    login(client, admin)
    html = client.get("/admin/policy").get_data(as_text=True)
    table = html.split('data-testid="policy-summary"', 1)[1].split("</table>", 1)[0]
    assert "school_leader" not in table and "+60 min" not in table
    assert "School leader after 1 hour; District counsellor after 2 hours" in table
    assert "every 7 days" in table and "3 days" in table and "1 hour" in table
    assert "Supervisors may use break-glass access: not allowed" in html
    assert "(left_behind)" not in html  # category labels, not codes


def test_preview_then_confirm_saves_exactly_the_previewed_text(
    client, admin, db_session, audit_entries
):
    login(client, admin)
    body = default_body()
    body["tiers"][3]["followup_days"] = 2
    body["tiers"][2]["escalation"][1]["after_minutes"] = 96 * 60
    body["break_glass"] = {"supervisors": True}
    text = _text(body)
    preview = client.post("/admin/policy", data={"body": text})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'data-testid="policy-changes"' in html
    changes = html.split('data-testid="policy-changes"', 1)[1].split("</table>", 1)[0]
    assert "Red: crisis › Follow-up" in changes
    assert "every 1 day" in changes and "every 2 days" in changes
    assert (
        "Orange: key concern › Escalation" in changes
        and "District counsellor after 4 days" in changes
    )
    assert "Supervisors may use break-glass access" in changes and "not allowed" in changes
    assert "Green: no risk" not in changes  # unchanged settings are not listed
    # A preview saves nothing.
    assert _versions(db_session) == [] and audit_entries(AuditAction.POLICY_CHANGE) == []

    digest = _digest(html)
    saved = client.post(
        "/admin/policy",
        data={"step": "confirm", "body": text.replace("\n", "\r\n"), "digest": digest},
    )
    assert saved.status_code == 302
    assert _versions(db_session) == [1]
    db_session.info.clear()
    policy = current_policy(db_session, admin.memberships[0].district_id)
    assert policy.followup_days[3] == 2 and policy.supervisor_break_glass is True
    assert len(audit_entries(AuditAction.POLICY_CHANGE)) == 1
    history = client.get("/admin/policy?version=1").get_data(as_text=True)
    assert 'data-testid="policy-versions"' in history and "followup_days: 2" in history
    assert client.get("/admin/policy?version=99").status_code == 404


def test_a_confirm_with_anything_else_than_the_previewed_text_saves_nothing(
    client, admin, db_session
):
    login(client, admin)
    body = default_body()
    body["tiers"][3]["followup_days"] = 2
    text = _text(body)
    digest = _digest(client.post("/admin/policy", data={"body": text}).get_data(as_text=True))
    # Another text with the previewed digest: refused, nothing saved, the new text previewed.
    other = text.replace("followup_days: 2", "followup_days: 3")
    refused = client.post(
        "/admin/policy", data={"step": "confirm", "body": other, "digest": digest}
    )
    assert refused.status_code == 409 and _versions(db_session) == []
    assert "every 3 days" in refused.get_data(as_text=True)
    # No digest at all: a bad request.
    assert client.post("/admin/policy", data={"step": "confirm", "body": text}).status_code == 400
    # Another version saved after the preview: the preview is stale.
    save_policy(db_session, None, admin.memberships[0].district_id, default_body())
    stale = client.post("/admin/policy", data={"step": "confirm", "body": text, "digest": digest})
    assert stale.status_code == 409 and _versions(db_session) == [1]


def test_no_changes_offers_nothing_to_confirm(client, admin):
    login(client, admin)
    html = client.post("/admin/policy", data={"body": _text(default_body())}).get_data(as_text=True)
    assert 'data-testid="policy-no-changes"' in html and 'name="digest"' not in html


def test_errors_name_the_setting_in_words(client, admin, db_session):
    login(client, admin)
    body = default_body()
    body["tiers"][2]["escalation"][1]["role"] = "janitor"
    body["tiers"][0]["colour"] = "green"
    body["break_glass"] = {"supervisors": "yes please"}
    body["tiers"][1]["followup_dayz"] = 3
    html = client.post("/admin/policy", data={"body": _text(body)}).get_data(as_text=True)
    errors = html.split('data-testid="policy-errors"', 1)[1].split("</div>", 1)[0]
    assert (
        "Orange: key concern › Escalation › rung 2 › Role must be one of: "
        "Psychology teacher (psych_teacher), School leader (school_leader), or "
        "District counsellor (counsellor)." in errors
    )
    assert "Green: no risk › Colour must be a colour written like #c62828." in errors
    assert (
        "Break-glass access › Supervisors may use break-glass access must be true or false."
        in errors
    )
    assert "Yellow: general concern › followup_dayz is not a setting of the tier policy" in errors
    assert "tiers[2].escalation[1].role" in errors  # where to look in the text
    assert "is not one of" not in errors  # never the validator's own English
    yaml_error = client.post("/admin/policy", data={"body": "tiers: [unclosed"})
    assert "The text is not valid YAML or JSON (line 1, column 17)." in yaml_error.get_data(
        as_text=True
    )
    assert _versions(db_session) == []


def test_errors_and_diff_in_chinese(client, admin, db_session):
    user = db_session.get(User, admin.id)
    user.locale = "zh_CN"
    db_session.flush()
    login(client, admin)
    body = default_body()
    body["tiers"][2]["escalation"][1]["role"] = "janitor"
    html = client.post("/admin/policy", data={"body": _text(body)}).get_data(as_text=True)
    errors = html.split('data-testid="policy-errors"', 1)[1].split("</div>", 1)[0]
    assert (
        "橙色：重点关注 › 逐级上报 › 第 2 级 › 角色必须是以下之一：心理教师 (psych_teacher)"
        in errors
    )
    body = default_body()
    body["tiers"][3]["followup_days"] = 2
    html = client.post("/admin/policy", data={"body": _text(body)}).get_data(as_text=True)
    assert "红色：危机 › 随访" in html and "每 2 天" in html


def test_enabling_supervisors_break_glass_warns_about_a_lone_supervisor(
    client, admin, db_session, env
):
    make_user(db_session, env.settings, Role.SUPERVISOR)
    login(client, admin)
    body = default_body()
    body["break_glass"] = {"supervisors": True}
    html = client.post("/admin/policy", data={"body": _text(body)}).get_data(as_text=True)
    assert 'data-testid="policy-warning"' in html and "Only 1 supervisor is active" in html
    make_user(db_session, env.settings, Role.SUPERVISOR)
    html = client.post("/admin/policy", data={"body": _text(body)}).get_data(as_text=True)
    assert 'data-testid="policy-warning"' not in html
