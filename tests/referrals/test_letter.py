"""The referral letter (转介单): the minimum dataset only, zh_CN or English, A4 print stylesheet,
audited as a print; for the sender and the centre (the browser test prints it to PDF)."""

from __future__ import annotations

from wellbeing.core.audit import AuditAction
from wellbeing.referrals.minimum import DATASET_KEYS

from ..conftest import login
from .documents import sharing_world


def test_the_letter_carries_the_minimum_dataset_only(client, db_session, env, audit_entries):
    world, referral = sharing_world(db_session, env.settings)
    login(client, world.users["sender"])
    response = client.get(f"/referrals/{referral.id}/letter?lang=zh_CN")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "转介单" in html and "referrals-print.css" in html
    assert world.student.name in html and "王母" in html and "13800000000" in html
    assert "情绪低落两月" in html  # the reason for the partner
    assert "内部备注不外传" not in html  # never the internal note
    assert "phq9_1" in html  # the item answers the sender chose to share
    assert 'class="nav' not in html and "<nav" not in html  # nothing of the shell
    entry = audit_entries(AuditAction.REFERRAL_PRINT)[-1]
    assert entry.object_id == str(referral.id) and set(entry.fields) == set(DATASET_KEYS)
    english = client.get(f"/referrals/{referral.id}/letter?lang=en").get_data(as_text=True)
    assert "Referral letter" in english and "转介单" not in english


def test_the_letter_is_for_the_sender_and_the_centre(client, db_session, env):
    world, referral = sharing_world(db_session, env.settings)
    login(client, world.users["centre"])
    assert client.get(f"/referrals/{referral.id}/letter").status_code == 200
    login(client, world.users["leader"])
    assert client.get(f"/referrals/{referral.id}/letter").status_code == 404
    login(client, world.users["other_psych"])
    assert client.get(f"/referrals/{referral.id}/letter").status_code == 404
    login(client, world.users["partner_a"])
    assert client.get(f"/referrals/{referral.id}/letter").status_code == 403


def test_the_print_stylesheet_is_a4(client, db_session, env):
    world, _referral = sharing_world(db_session, env.settings)
    login(client, world.users["sender"])
    css = client.get("/static/referrals-print.css").get_data(as_text=True)
    assert "size: A4" in css and "@media print" in css
