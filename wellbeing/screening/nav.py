"""Screening's menu entries (found by ``modules.iter_parts("nav", "NAV")``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..core.authz import Permission
from ..ui import NavItem

NAV = [
    NavItem("screening.index", _l("Screening"), Permission.STATS_SCREENING, 30, group="screening"),
    NavItem(
        "screening.review", _l("Screening review"), Permission.TIER_DECIDE, 31, group="screening"
    ),
]
