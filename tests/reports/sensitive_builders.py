"""The named-list export's URL builder for the sensitive-route harness
(``tests/audit/test_sensitive_routes.py`` imports this file at its end): a campaign covering
the world's own school, whose own student has not answered, so the list names them."""

from __future__ import annotations

import datetime as dt

from wellbeing.db import utcnow
from wellbeing.screening.services import create_campaign

from ..audit.test_sensitive_routes import Visit, builder
from ..authz import World


def unscreened_campaign(w: World):  # type: ignore[no-untyped-def]
    """One campaign (PHQ-9, grades 4-12) over both schools of the world, made once."""
    if "unscreened_campaign" not in w.extra:
        today = utcnow().date()
        w.extra["unscreened_campaign"] = create_campaign(
            w.session, None, name="Harness screening", instruments=["phq9"],
            schools=[w.own_school, w.other_school], grades=list(range(4, 13)),
            opens_on=today - dt.timedelta(days=1), closes_on=today + dt.timedelta(days=30),
        )  # fmt: skip
        w.session.flush()
    return w.extra["unscreened_campaign"]


@builder("reports_named.unscreened")
def _reports_named_unscreened(w: World) -> Visit:
    campaign = unscreened_campaign(w)
    url = f"/reports/coverage/unscreened?school={w.own_school.id}&campaign={campaign.id}"
    return Visit(url, "psych_teacher", w.own_student, "POST", {"reason": "补测安排"})
