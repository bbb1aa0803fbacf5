"""Every code the referral module stores or shows has a label in zh_CN and en (no code is ever
shown to a person), and the notices render in the reader's language."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from wellbeing.core.states import state_name
from wellbeing.notify.models import Notice
from wellbeing.referrals import models, notices, partners, sla

CODES = [
    ("state", tuple(models.ReferralState), None),
    ("actor", tuple(models.Actor), models.ACTOR_LABELS),
    ("partner kind", models.PARTNER_KINDS, models.PARTNER_KIND_LABELS),
    ("service", models.PARTNER_SERVICES, models.PARTNER_SERVICE_LABELS),
    ("urgency", models.URGENCIES, models.URGENCY_LABELS),
    ("outcome", models.OUTCOMES, models.OUTCOME_LABELS),
    ("milestone", sla.MILESTONES, sla.MILESTONE_LABELS),
    ("contact", partners.CONTACT_KINDS, partners.CONTACT_KIND_LABELS),
]


@pytest.mark.parametrize(("what", "codes", "labels"), CODES, ids=[c[0] for c in CODES])
def test_every_code_has_a_label_in_both_languages(app, what, codes, labels):
    with app.test_request_context():
        for code in codes:
            label = state_name(code) if labels is None else labels[code]
            with force_locale("en"):
                english = str(label)
            with force_locale("zh_CN"):
                chinese = str(label)
            assert english and english != str(code), (what, code)
            assert chinese != english and any("\u4e00" <= ch <= "\u9fff" for ch in chinese), (
                what, code, chinese,
            )  # fmt: skip


def test_notices_render_in_the_readers_language(app):
    notice = Notice(kind=notices.NOTICE_KIND, ref="x", params={"state": "sent"})
    with app.test_request_context():
        with force_locale("zh_CN"):
            assert notices.notice_text(notice) == "转介状态已更新：已转给合作医疗机构"
        with force_locale("en"):
            assert notices.notice_text(notice) == "A referral changed: Sent to the partner"
