"""What the screening pages share: the campaign a request names (with the schools of it the
user may act for), the school to act for, and the questionnaire of a campaign."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, cast

from flask import abort, current_app, g

from ..core.authz import Permission
from ..core.forms import SelectChoice
from ..db import get_session
from ..orgs.labels import school_label
from ..orgs.models import School
from . import services
from .engine.instruments import Instrument
from .intake.pipeline import campaign_instruments
from .models import Campaign


def campaign_for(campaign_id: uuid.UUID, permission: Permission) -> tuple[Campaign, list[School]]:
    """The campaign and the schools of it where the user holds ``permission`` (else 403/404)."""
    return services.campaign_for(get_session(), g.principal, campaign_id, permission)


def school_choices(schools: list[School]) -> list[SelectChoice]:
    return [SelectChoice(str(s.id), school_label(s)) for s in schools]


def pick_school(schools: list[School], value: str | None) -> School:
    if len(schools) == 1:
        return schools[0]
    found = next((s for s in schools if str(s.id) == value), None)
    if found is None:
        abort(400)
    return found


def questionnaire(campaign: Campaign) -> list[Instrument]:
    return list(campaign_instruments(get_session(), campaign).values())


# The reports module (above this one) hands the results page its small-cell suppression when
# its blueprint is registered (``reports.views``; issue 16), as crisis does for the tier pages.
RESULTS_SUPPRESSION = "wellbeing.results_suppression"


def results_suppression() -> Callable[..., Any]:
    """``reports.publish.publish_results``: fails closed when the reports module is absent, so
    the results table never goes out unsuppressed."""
    found = current_app.extensions.get(RESULTS_SUPPRESSION)
    if not callable(found):
        raise RuntimeError("the reports module is not registered: the results page needs it")
    return cast(Callable[..., Any], found)


# The results page of the district from the job's tally (``reports.results_tally``; issue 16
# item 6), handed over the same way; absent, the page counts live (suppressed as above).
RESULTS_TALLY = "wellbeing.results_tally"


def results_tally() -> Callable[..., Any] | None:
    """``reports.results_tally.tallied_results`` when the reports module is registered."""
    found = current_app.extensions.get(RESULTS_TALLY)
    return cast(Callable[..., Any], found) if callable(found) else None
