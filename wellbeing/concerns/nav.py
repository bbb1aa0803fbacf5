"""The concerns pages' menu entries (found by ``modules.iter_parts("nav", "NAV")``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..core.authz import Permission
from ..ui import NavItem

NAV = [
    NavItem(
        "concerns.new", _l("Report a concern"), Permission.CONCERN_REPORT, 20, group="students"
    ),
    NavItem("concerns.mine", _l("My reports"), Permission.CONCERN_OWN, 21, group="students"),
    NavItem("concerns.queue", _l("Concerns"), Permission.RECORD_READ, 22, group="students"),
    NavItem("concerns.hotline", _l("Hotline"), Permission.HOTLINE_LOG, 60, group="alerts"),
]
