"""The audit pages' menu entries (found by ``modules.iter_parts("nav", "NAV")``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..core.authz import Permission
from ..ui import NavItem

NAV = [
    NavItem("audit.search", _l("Audit trail"), Permission.AUDIT_READ, 80, group="admin"),
    NavItem(
        "audit.break_glass_queue", _l("Break-glass review"), Permission.AUDIT_REVIEW, 81,
        group="admin",
    ),
    NavItem("audit.integrity", _l("Integrity"), Permission.AUDIT_INTEGRITY, 82, group="admin"),
]  # fmt: skip
