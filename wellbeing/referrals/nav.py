"""The referral pages' menu entries: the referrals (the centre's queue for counsellors, the
school's referrals for its psychology teachers and leaders), and the partner register and its
working calendar for admins; the partner portal's queue for hospital liaisons."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..core.authz import Permission
from ..ui import NavItem

NAV = [
    NavItem("referrals.index", _l("Referrals"), Permission.REFERRALS_READ, 30, group="students"),
    NavItem("partner_portal.queue", _l("Referrals to my organisation"),
            Permission.PARTNER_REFERRALS, 30, group="students"),
    NavItem("referrals.admin_partners", _l("Health partners"), Permission.PARTNERS_MANAGE, 86,
            group="admin"),
    NavItem("referrals.admin_calendar", _l("Working calendar"), Permission.PARTNERS_MANAGE, 87,
            group="admin"),
]  # fmt: skip
