"""The follow-ups' menu entry (found by ``modules.iter_parts("nav", "NAV")``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..core.authz import Permission
from ..ui import NavItem

NAV = [
    NavItem(
        "followups.agenda", _l("My agenda"), Permission.SELF_AGENDA, order=20, group="workbench"
    ),
]
