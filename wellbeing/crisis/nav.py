"""The crisis pages' menu entry (found by ``modules.iter_parts("nav", "NAV")``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..core.authz import Permission
from ..ui import NavItem

NAV = [NavItem("crisis.index", _l("Crises"), Permission.CRISIS_MANAGE, 25, group="alerts")]
