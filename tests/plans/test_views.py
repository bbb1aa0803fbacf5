"""The plan pages through HTTP: the plan page by role, the editor without script (rows added
and removed by buttons, bad input kept), saving a version, sign-off and return (never by the
author), review into a new version, versions compared, closing, the sign-off queue, and the
zh_CN pages without English leftovers."""

from __future__ import annotations

import re

from sqlalchemy import select

from wellbeing.core.audit import AuditAction
from wellbeing.plans import services
from wellbeing.plans.models import Plan, PlanState

from ..conftest import login
from ..test_zh_pages import english_on
from .conftest import complete_body, safety_crisis


def _plan(session, student):  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.scalars(
        select(Plan).where(Plan.student_id == student.id).order_by(Plan.created_at.desc())
    ).first()


def _editor_data(html: str) -> dict[str, str]:
    """What the browser would send back from the editor as it is shown (no script)."""
    data: dict[str, str] = {}
    for tag in re.findall(r"<(?:input|select|textarea)[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or name.group(1) == "action":
            continue
        key = name.group(1)
        if tag.startswith("<input"):
            kind = re.search(r'type="([^"]+)"', tag)
            value = re.search(r'value="([^"]*)"', tag)
            if kind and kind.group(1) == "checkbox":
                if "checked" in tag:
                    data[key] = value.group(1) if value else "y"
                continue
            data[key] = value.group(1) if value else ""
        elif tag.startswith("<select"):
            block = html[html.index(tag) :]
            block = block[: block.index("</select>")]
            chosen = re.search(r'<option selected value="([^"]*)"', block) or re.search(
                r'<option value="([^"]*)" selected', block
            )
            first = re.search(r'<option[^>]*value="([^"]*)"', block)
            data[key] = chosen.group(1) if chosen else (first.group(1) if first else "")
        else:
            start = html.index(tag) + len(tag)
            data[key] = html[start : html.index("</textarea>", start)].strip()
    return data


def _start(client, w, student):  # type: ignore[no-untyped-def]
    login(client, w.users["psych_teacher"])
    page = client.get(f"/students/{student.id}/plan")
    assert page.status_code == 200
    assert 'data-testid="start-plan"' in page.get_data(as_text=True)
    response = client.post(f"/students/{student.id}/plan/start")
    assert response.status_code == 302 and response.headers["Location"].endswith("/plan/edit")


def test_psych_teacher_writes_a_plan_through_the_editor(
    client, db_session, plans_world, audit_entries
):
    w = plans_world
    student = w.orange
    _start(client, w, student)
    html = client.get(f"/students/{student.id}/plan/edit").get_data(as_text=True)
    assert 'data-testid="plan-editor"' in html and "<script" not in html
    data = _editor_data(html)
    # add a concern: the draft is saved and the editor shows an empty row
    response = client.post(
        f"/students/{student.id}/plan/edit", data={**data, "action": "add:concerns"}
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count('data-testid="concern-row"') == 1
    data = _editor_data(html)
    data["concerns-0-text"] = "考试焦虑，睡眠差"
    html = client.post(
        f"/students/{student.id}/plan/edit", data={**data, "action": "add:goals"}
    ).get_data(as_text=True)
    data = _editor_data(html)
    assert html.count('data-testid="goal-row"') == 1 and "考试焦虑，睡眠差" in html
    concern_id = data["concerns-0-id"]
    data.update(
        {
            "goals-0-text": "每晚睡够七小时",
            "goals-0-measure": "睡眠日记",
            "goals-0-target_date": "2026-13-40",
            "goals-0-concern_ids": concern_id,
        }
    )
    # a bad date: shown beside the field, nothing lost, nothing saved
    response = client.post(f"/students/{student.id}/plan/edit", data={**data, "action": "save"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "field-error" in html
    assert "每晚睡够七小时" in html and "睡眠日记" in html
    data["goals-0-target_date"] = "2026-04-30"
    html = client.post(
        f"/students/{student.id}/plan/edit", data={**data, "action": "add:adults"}
    ).get_data(as_text=True)
    data = _editor_data(html)
    # the adult is chosen from the school's staff: the class teacher is offered by name
    assert f'value="user:{w.users["class_teacher"].id.hex}"' in html
    data.update(
        {
            "adults-0-person": f"user:{w.users['class_teacher'].id.hex}",
            "adults-0-role": "class_teacher",
        }
    )
    html = client.post(
        f"/students/{student.id}/plan/edit", data={**data, "action": "add:tasks:0"}
    ).get_data(as_text=True)
    data = _editor_data(html)
    data.update({"adults-0-tasks-0-title": "座位调到前排", "adults-0-tasks-0-due": "2026-03-20"})
    html = client.post(
        f"/students/{student.id}/plan/edit", data={**data, "action": "add:interventions"}
    ).get_data(as_text=True)
    data = _editor_data(html)
    data.update(
        {
            "interventions-0-kind": "individual_counselling",
            "interventions-0-description": "每周一次个别辅导",
        }
    )
    response = client.post(f"/students/{student.id}/plan/edit", data={**data, "action": "submit"})
    assert response.status_code == 302, response.get_data(as_text=True)
    plan = _plan(db_session, student)
    assert plan.state == PlanState.SUBMITTED and plan.latest_version == 1
    page = client.get(f"/students/{student.id}/plan").get_data(as_text=True)
    assert "每晚睡够七小时" in page and "座位调到前排" in page
    # the author is never offered the sign-off
    assert 'data-testid="sign-plan"' not in page and 'data-testid="own-version"' not in page
    assert audit_entries(AuditAction.PLAN_VIEW)


def test_sign_off_return_review_and_compare(client, db_session, plans_world):
    w = plans_world
    student = w.orange
    plan = services.start_plan(db_session, w.psych, student.id)
    services.save_draft(
        db_session, w.psych, plan.id, complete_body(teacher_id=w.users["class_teacher"].id)
    )
    services.save_version(db_session, w.psych, plan.id)
    db_session.commit()
    # the leader returns it with a reason (a reason is required)
    login(client, w.users["school_leader"])
    page = client.get(f"/students/{student.id}/plan").get_data(as_text=True)
    assert 'data-testid="sign-plan"' in page and 'data-testid="return-form"' in page
    assert 'data-testid="edit-plan"' not in page
    client.post(f"/students/{student.id}/plan/return", data={"reason": ""})
    assert _plan(db_session, student).state == PlanState.SUBMITTED
    client.post(f"/students/{student.id}/plan/return", data={"reason": "目标不够具体"})
    plan = _plan(db_session, student)
    assert plan.state == PlanState.DRAFT
    page = client.get(f"/students/{student.id}/plan").get_data(as_text=True)
    assert "目标不够具体" in page
    # the psych teacher saves it again; the leader signs it off
    login(client, w.users["psych_teacher"])
    data = _editor_data(client.get(f"/students/{student.id}/plan/edit").get_data(as_text=True))
    assert (
        client.post(
            f"/students/{student.id}/plan/edit", data={**data, "action": "submit"}
        ).status_code
        == 302
    )
    login(client, w.users["school_leader"])
    assert client.post(f"/students/{student.id}/plan/sign").status_code == 302
    plan = _plan(db_session, student)
    assert plan.state == PlanState.ACTIVE and plan.effective_version == 2
    page = client.get(f"/students/{student.id}/plan").get_data(as_text=True)
    assert "版本 2" in page or "Version 2" in page
    assert 'data-testid="start-review"' not in page  # leaders do not write plans
    # review: the goal progresses, a new goal is added -> version 3
    login(client, w.users["psych_teacher"])
    response = client.post(f"/students/{student.id}/plan/review")
    assert response.status_code == 302 and response.headers["Location"].endswith("/plan/edit")
    data = _editor_data(client.get(f"/students/{student.id}/plan/edit").get_data(as_text=True))
    data["goals-0-achievement"] = "improving"
    data["goals-0-measure"] = "睡眠日记（每周交）"
    assert (
        client.post(
            f"/students/{student.id}/plan/edit", data={**data, "action": "submit"}
        ).status_code
        == 302
    )
    plan = _plan(db_session, student)
    assert plan.latest_version == 3
    html = client.get(f"/students/{student.id}/plan/versions?a=2&b=3").get_data(as_text=True)
    assert 'data-testid="plan-changes"' in html
    assert 'data-change="changed"' in html and "睡眠日记（每周交）" in html
    bad = client.get(f"/students/{student.id}/plan/versions?a=2&b=9")
    assert bad.status_code == 400


def test_the_author_may_not_sign_even_with_the_permission(client, db_session, plans_world):
    """A district counsellor who wrote the version is not offered the sign-off, and the
    service refuses it if posted anyway."""
    w = plans_world
    counsellor = w.counsellor
    plan = services.start_plan(db_session, counsellor, w.orange.id)
    services.save_draft(db_session, counsellor, plan.id, complete_body())
    services.save_version(db_session, counsellor, plan.id)
    db_session.commit()
    login(client, w.users["counsellor"])
    page = client.get(f"/students/{w.orange.id}/plan").get_data(as_text=True)
    assert 'data-testid="sign-plan"' not in page and 'data-testid="own-version"' in page
    response = client.post(f"/students/{w.orange.id}/plan/sign")
    assert response.status_code == 403
    assert _plan(db_session, w.orange).state == PlanState.SUBMITTED


def test_class_teacher_and_other_school_are_refused(client, db_session, plans_world):
    w = plans_world
    plan = services.start_plan(db_session, w.psych, w.orange.id)
    db_session.commit()
    login(client, w.users["class_teacher"])
    assert client.get(f"/students/{w.orange.id}/plan").status_code == 403
    assert client.get(f"/students/{w.orange.id}/plan/print").status_code == 403
    login(client, w.users["other_school_psych"])
    assert client.get(f"/students/{w.orange.id}/plan").status_code == 403
    assert client.get(f"/students/{w.orange.id}/plan/edit").status_code == 403
    login(client, w.users["school_leader"])
    assert client.get(f"/students/{w.orange.id}/plan/edit").status_code == 403
    page = client.get(f"/students/{w.orange.id}/plan").get_data(as_text=True)
    assert plan.state == PlanState.DRAFT and 'data-testid="edit-plan"' not in page
    assert 'data-testid="plan-being-written"' in page  # a draft is for its writers


def test_close_needs_a_reason_and_cancels_a_first_draft(client, db_session, plans_world):
    w = plans_world
    services.start_plan(db_session, w.psych, w.orange.id)
    db_session.commit()
    login(client, w.users["psych_teacher"])
    client.post(f"/students/{w.orange.id}/plan/close", data={"reason": ""})
    assert _plan(db_session, w.orange).state == PlanState.DRAFT
    client.post(f"/students/{w.orange.id}/plan/close", data={"reason": "不需要"})
    assert _plan(db_session, w.orange).state == PlanState.CANCELLED


def test_signoff_queue_lists_waiting_plans_for_the_leader_only(client, db_session, plans_world):
    w = plans_world
    crisis = safety_crisis(db_session, w, w.red)
    plan = services.start_plan(db_session, w.psych, w.red.id)
    services.save_draft(db_session, w.psych, plan.id, complete_body(safety_crisis_id=crisis.id))
    services.save_version(db_session, w.psych, plan.id)
    db_session.commit()
    login(client, w.users["school_leader"])
    html = client.get("/plans/signoffs").get_data(as_text=True)
    assert 'data-testid="signoff-queue"' in html and w.red.name in html
    assert "/plans/signoffs" in client.get("/").get_data(as_text=True)
    page = client.get(f"/students/{w.red.id}/plan").get_data(as_text=True)
    assert f"/crisis/{crisis.id}" in page  # the safety step links the checklist
    login(client, w.users["psych_teacher"])
    assert client.get("/plans/signoffs").status_code == 403


def test_record_section_links_to_the_plan(client, db_session, plans_world):
    w = plans_world
    services.start_plan(db_session, w.psych, w.orange.id)
    db_session.commit()
    login(client, w.users["psych_teacher"])
    html = client.get(f"/students/{w.orange.id}").get_data(as_text=True)
    assert 'data-testid="record-plan"' in html and f"/students/{w.orange.id}/plan" in html


def test_zh_pages_have_no_english_leftovers(client, db_session, plans_world):
    w = plans_world
    crisis = safety_crisis(db_session, w, w.red)
    plan = services.start_plan(db_session, w.psych, w.red.id)
    services.save_draft(
        db_session,
        w.psych,
        plan.id,
        complete_body(teacher_id=w.users["class_teacher"].id, safety_crisis_id=crisis.id),
    )
    services.save_version(db_session, w.psych, plan.id)
    db_session.commit()
    names = [u.display_name for u in w.users.values()] + [u.username for u in w.users.values()]
    for role, paths in (
        ("school_leader", ["/plan", "/plan/versions", "/plan/print"]),
        ("psych_teacher", ["/plan", "/plan/versions", "/plan/print"]),
    ):
        login(client, w.users[role])
        client.post("/locale", data={"locale": "zh_CN", "next": "/"})
        for path in paths:
            html = client.get(f"/students/{w.red.id}{path}").get_data(as_text=True)
            left = english_on(_main(html), *names, w.red.name)
            assert left == [], (role, path, left)
    login(client, w.users["school_leader"])
    client.post("/locale", data={"locale": "zh_CN", "next": "/"})
    client.post(f"/students/{w.red.id}/plan/sign")
    login(client, w.users["psych_teacher"])
    client.post("/locale", data={"locale": "zh_CN", "next": "/"})
    client.post(f"/students/{w.red.id}/plan/review")
    html = client.get(f"/students/{w.red.id}/plan/edit").get_data(as_text=True)
    assert english_on(_main(html), *names, w.red.name) == []
    login(client, w.users["counsellor"])
    client.post("/locale", data={"locale": "zh_CN", "next": "/"})
    html = client.get("/plans/signoffs").get_data(as_text=True)
    assert english_on(_main(html), *names) == []


def _main(html: str) -> str:
    """The page's own part (the menu holds other modules' entries)."""
    return html[html.index("<main") :] if "<main" in html else html


def test_bad_input_is_refused_in_chinese_and_nothing_is_lost(client, db_session, plans_world):
    w = plans_world
    plan = services.start_plan(db_session, w.psych, w.orange.id)
    services.save_draft(db_session, w.psych, plan.id, complete_body())
    db_session.commit()
    login(client, w.users["psych_teacher"])
    client.post("/locale", data={"locale": "zh_CN", "next": "/"})
    url = f"/students/{w.orange.id}/plan/edit"
    data = _editor_data(client.get(url).get_data(as_text=True))
    names = [u.display_name for u in w.users.values()] + [w.orange.name]
    # a bad date: the field's own message, in Chinese, beside it
    response = client.post(url, data={**data, "goals-0-target_date": "2026-02-30"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "field-error" in html
    assert english_on(_main(html), *names) == []
    # a goal emptied while its measure stays: the service names the field, in Chinese
    response = client.post(url, data={**data, "goals-0-text": "", "goals-0-measure": "新的衡量"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "为空" in html and "新的衡量" in html
    assert english_on(_main(html), *names) == []
    # saving a version with a concern that has no goal: what is missing, in Chinese
    data["concerns-1-id"], data["concerns-1-text"] = "c2", "和同学关系紧张"
    response = client.post(url, data={**data, "action": "submit"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "方案尚不能保存" in html and "和同学关系紧张" in html
    assert _plan(db_session, w.orange).state == PlanState.DRAFT


def test_remove_buttons_save_the_draft_without_the_row(client, db_session, plans_world):
    w = plans_world
    plan = services.start_plan(db_session, w.psych, w.orange.id)
    services.save_draft(db_session, w.psych, plan.id,
                        complete_body(teacher_id=w.users["class_teacher"].id))  # fmt: skip
    db_session.commit()
    login(client, w.users["psych_teacher"])
    url = f"/students/{w.orange.id}/plan/edit"
    data = _editor_data(client.get(url).get_data(as_text=True))
    assert data["adults-1-tasks-0-title"] == "座位调到前排"
    response = client.post(url, data={**data, "action": "remove:tasks:1:0"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#adults")
    draft = _plan(db_session, w.orange).draft
    assert draft["adults"][1]["tasks"] == [] and len(draft["adults"][0]["tasks"]) == 1
    data = _editor_data(client.get(url).get_data(as_text=True))
    client.post(url, data={**data, "action": "remove:goals:0"})
    assert _plan(db_session, w.orange).draft["goals"] == []
    # an unknown button only saves
    data = _editor_data(client.get(url).get_data(as_text=True))
    assert client.post(url, data={**data, "action": "remove:goals:9"}).status_code == 302
