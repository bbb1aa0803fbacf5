"""The account's menu entry (found by ``modules.iter_parts("nav", "NAV")``): reached from the
user's name in the top line, not from the menu's groups."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..core.authz import Permission
from ..ui import NavItem

NAV = [
    NavItem("auth.account", _l("My account"), Permission.SELF_ACCOUNT, order=95, group="account"),
]
