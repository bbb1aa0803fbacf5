"""The tier pages' menu entries (found by ``modules.iter_parts("nav", "NAV")``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..core.authz import Permission
from ..ui import NavItem

NAV = [
    NavItem(
        "risk.stepdown_queue",
        _l("Step-down approvals"),
        Permission.TIER_APPROVE_STEPDOWN,
        45,
        group="alerts",
    ),
    NavItem("risk.policy", _l("Tier policy"), Permission.POLICY_MANAGE, 90, group="admin"),
]
