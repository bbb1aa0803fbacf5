"""The workbench's menu entries (found by ``modules.iter_parts("nav", "NAV")``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..core.authz import Permission
from ..ui import NavItem
from .caseload import has_classes

NAV = [
    NavItem("workbench.home", _l("Workbench"), Permission.SELF_SESSION, 10, group="workbench"),
    NavItem("workbench.caseload", _l("My caseload"), Permission.TIER_DECIDE, 19, group="students"),
    NavItem(
        "workbench.class_list", _l("My class"), Permission.CONCERN_REPORT, 19, group="students",
        when=has_classes,
    ),
]  # fmt: skip
