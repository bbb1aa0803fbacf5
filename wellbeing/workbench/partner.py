"""The health partner liaison's panels: new referrals to acknowledge, appointments to arrange
and to confirm, feedback due (``referrals.portal_data.GROUPS``), each row leading to the
referral in the partner portal.

No child is named here: a row says the referral's reference and urgency and its deadline; the
portal shows the minimum dataset and audits it. Registered in ``services.LATER_PANELS`` at
import (``views`` imports this file), so ``services`` stays below it.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core.authz import Principal, Role
from ..referrals.models import URGENCY_LABELS
from ..referrals.portal_data import GROUPS, liaison_queue, reference
from ..referrals.queries import partner_ids
from . import queries
from .services import LATER_PANELS, Panel, PanelSource, Row, Today

PANEL_KEYS = ("acknowledge", "schedule", "attendance", "feedback")
TITLES = {key: title for key, _states, title in GROUPS}


def _panel(key: str) -> PanelSource:
    def panel(session: Session, principal: Principal, today: Today) -> Panel | None:
        if not partner_ids(principal):  # a partner account not yet linked to an organisation
            return None
        group = next(g for g in liaison_queue(session, principal, today.now) if g.key == key)
        rows = [
            Row("partner_portal.referral", {"referral_id": r.id},
                f"{reference(r.id)} · {URGENCY_LABELS.get(r.urgency, '')}", None, r.due_at,
                late=bool(r.due_at and r.due_at < today.now))
            for r in group.referrals[: queries.FIRST_ROWS]
        ]  # fmt: skip
        return Panel(f"partner_{key}", TITLES[key], len(group.referrals), rows,
                     ("partner_portal.queue", {}), empty=_l("Nothing waiting."))  # fmt: skip

    panel.__name__ = f"partner_{key}_panel"
    return panel


PARTNER_PANELS: list[PanelSource] = [_panel(key) for key in PANEL_KEYS]
LATER_PANELS[Role.PARTNER] = PARTNER_PANELS
