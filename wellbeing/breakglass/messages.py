"""What the break-glass pages tell people: refusals and the truthful notice of who was told."""

from __future__ import annotations

import datetime as dt

from babel.lists import format_list
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..audit.models import BreakGlass
from . import services

REFUSALS = {
    "supervisor_policy": _l(
        "Your district's policy does not allow supervisors to use break-glass access. An "
        "administrator can change this in the tier policy (break-glass for supervisors)."
    ),
}

# Not a refusal: someone who may read the record already is sent there with this note.
IN_SCOPE = _l("You already have access to this student's record.")


CHANNELS = {"inbox": _l("in-app"), "email": _l("e-mail")}


def granted(session: Session, grant: BreakGlass, tz: dt.tzinfo) -> str:
    """What happened, truthfully: until when, and exactly who was told by which channel."""
    until = grant.expires_at.astimezone(tz).strftime("%H:%M")
    told = services.grant_notified(session, grant)
    if not told:
        return _(
            "Break-glass access granted until %(time)s. Nobody else could be told at once: "
            "no other supervisor or district counsellor is active. Your access is listed on "
            "the audit integrity panel until someone reviews it.",
            time=until,
        )
    locale = str(get_locale() or "zh_CN")
    people = [
        _("%(name)s (%(channels)s)", name=n.name,
          channels=format_list([str(CHANNELS.get(c, c)) for c in n.channels], locale=locale))
        for n in told
    ]  # fmt: skip
    return _(
        "Break-glass access granted until %(time)s. Told at once: %(people)s.",
        time=until,
        people=format_list(people, locale=locale),
    )
