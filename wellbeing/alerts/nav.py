"""The alerts' menu entries (found by ``modules.iter_parts("nav", "NAV")``), and the inbox
entry's label: "Alerts" with the open count as a badge."""

from __future__ import annotations

from flask import g
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from ..core.authz import Permission, can
from ..db import get_session
from ..ui import NavItem
from . import queries


def inbox_count() -> int:
    """Open alerts in the signed-in user's inbox (one indexed COUNT, once per request)."""
    principal = g.get("principal")
    if principal is None or not can(principal, Permission.SELF_INBOX):
        return 0
    if "alerts_inbox_count" not in g:
        g.alerts_inbox_count = queries.open_count(get_session(), principal.user_id)
    count: int = g.alerts_inbox_count
    return count


class InboxLabel:
    """The navigation label: "Alerts" plus the open count as a badge."""

    def __str__(self) -> str:
        return str(_("Alerts"))

    def __html__(self) -> str:
        count = inbox_count()
        label = escape(str(self))
        if not count:
            return str(label)
        return str(
            label
            + Markup(
                ' <span class="badge" data-testid="inbox-count" aria-label="{}">{}</span>'
            ).format(_("%(n)d open alerts", n=count), count)
        )


NAV = [
    NavItem("alerts.inbox", InboxLabel(), Permission.SELF_INBOX, 15, group="alerts"),
    NavItem(
        "alerts.district_queue",
        _l("District alerts"),
        Permission.DISTRICT_ESCALATIONS,
        16,
        group="alerts",
    ),
]
