"""Every referral page of the school, the centre and the admin as a zh_CN user sees it: no
English left, no code shown (states, urgencies, outcomes, milestones as labels)."""

from __future__ import annotations

from wellbeing.referrals.models import ReferralState

from ..conftest import login
from ..factories import make_student
from ..test_zh_pages import english_on
from .documents import sharing_world
from .helpers import walk_to


def _chinese(client) -> None:  # type: ignore[no-untyped-def]
    client.post("/locale", data={"locale": "zh_CN", "next": "/"})


def _check(client, url, *data):  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200, url
    html = response.get_data(as_text=True)
    assert english_on(html, *data) == [], url
    for code in (">submitted<", ">urgent<", ">routine<", ">triage<", ">treated<"):
        assert code not in html, (url, code)
    return html


def test_school_and_centre_pages_are_chinese(client, db_session, env):
    world, referral = sharing_world(db_session, env.settings)
    feedback = walk_to(db_session, world, ReferralState.FEEDBACK)
    names = [u.display_name for u in world.users.values()] + [
        u.username for u in world.users.values()
    ]
    names += [world.partner_a.name, world.partner_b.name, world.school.name, "PHQ-9", "phq9"]
    login(client, world.users["sender"])
    _chinese(client)
    fresh = make_student(db_session, world.school, tier=2)
    _check(client, f"/students/{fresh.id}/referrals/new", *names, fresh.name)
    _check(client, f"/referrals/{referral.id}/preview", *names)
    _check(client, f"/referrals/{referral.id}", *names)
    _check(client, f"/referrals/{feedback.id}", *names)
    _check(client, f"/referrals/{referral.id}/letter", *names)
    _check(client, "/referrals", *names)
    login(client, world.users["centre"])
    _chinese(client)
    _check(client, "/referrals", *names)
    _check(client, f"/referrals/{referral.id}", *names)
    login(client, world.users["admin"])
    _chinese(client)
    _check(client, "/admin/partners", *names)
    _check(client, f"/admin/partners/{world.partner_a.id}", *names)
    _check(client, "/admin/partners/new", *names)
    _check(client, "/admin/partners/calendar", *names)
