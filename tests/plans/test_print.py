"""The printable plan through HTTP: no menu, the A4 print stylesheet, the signatures block, a
chosen version; a version that does not exist is 404. (The PDF itself: tests/browser.)"""

from __future__ import annotations

from wellbeing.plans import services

from ..conftest import login
from .conftest import complete_body


def test_print_page_shows_a_version_with_signatures_and_no_menu(client, db_session, plans_world):
    w = plans_world
    plan = services.start_plan(db_session, w.psych, w.orange.id)
    services.save_draft(db_session, w.psych, plan.id,
                        complete_body(teacher_id=w.users["class_teacher"].id))  # fmt: skip
    services.save_version(db_session, w.psych, plan.id)
    services.sign(db_session, w.leader, plan.id, 1)
    db_session.commit()
    login(client, w.users["psych_teacher"])
    response = client.get(f"/students/{w.orange.id}/plan/print")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'class="main-nav"' not in html and "logout-form" not in html
    assert "plans-print.css" in html and 'data-testid="plan-signatures"' in html
    for text in (
        "每晚睡够七小时",
        "座位调到前排",
        "Psychology teacher",
        "School leader",
        "Guardian",
    ):
        assert text in html, text
    assert client.get(f"/students/{w.orange.id}/plan/print?version=1").status_code == 200
    assert client.get(f"/students/{w.orange.id}/plan/print?version=7").status_code == 404
    css = client.get("/static/plans-print.css").get_data(as_text=True)
    assert "@page" in css and "A4" in css


def test_nothing_to_print_without_a_plan(client, db_session, plans_world):
    login(client, plans_world.users["psych_teacher"])
    assert client.get(f"/students/{plans_world.yellow.id}/plan/print").status_code == 404
