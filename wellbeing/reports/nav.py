"""The dashboards' menu entries (found by ``modules.iter_parts("nav", "NAV")``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..core.authz import Permission
from ..ui import NavItem

NAV = [
    NavItem("reports.school", _l("School dashboard"), Permission.STATS_SCHOOL, 70, group="reports"),
    NavItem(
        "reports.district", _l("District dashboard"), Permission.STATS_DISTRICT, 71, group="reports"
    ),
    # The reports (issue 16): school staff (STATS_SCHOOL) and district staff (STATS_DISTRICT).
    NavItem(
        "reports.report_index",
        _l("Reports"),
        Permission.SELF_SESSION,
        72,
        group="reports",
        when=lambda p: bool(p.permissions() & {Permission.STATS_SCHOOL, Permission.STATS_DISTRICT}),
    ),
]
