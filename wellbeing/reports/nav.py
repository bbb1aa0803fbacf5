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
]
