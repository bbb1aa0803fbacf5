"""The administration pages' menu entries (found by ``modules.iter_parts("nav", "NAV")``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..core.authz import Permission
from ..ui import NavItem

NAV = [
    NavItem("orgs.schools", _l("Schools"), Permission.SCHOOLS_MANAGE, 80, group="admin"),
    NavItem("orgs.users_list", _l("Users"), Permission.USERS_MANAGE, 81, group="admin"),
]
