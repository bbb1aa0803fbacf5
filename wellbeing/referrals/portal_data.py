"""What the partner portal, its API and the partner's workbench panels read, built from the
minimum dataset only (:func:`.minimum.dataset`), and the words of a partner's confirmation.

* :func:`liaison_queue`: the liaison's referrals in groups by what they wait for (acknowledge,
  arrange an appointment, confirm attendance, write feedback, done); no read of content.
* :func:`access_of`: why a liaison no longer sees a referral addressed to their organisation
  (withdrawn, declined, ended), or ``None`` when it is not theirs at all (the caller answers 404,
  like a referral that does not exist).
* :func:`partner_document`: the one JSON shape of a referral for the liaison (API and export):
  the minimum dataset, the state and milestone times, the partner's own appointments and
  feedback. Never the internal reason, the history's reasons, notes or the plan.
* :func:`told_summary`: who a move told, as the confirmation says it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from flask_babel import get_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core.authz import Principal
from ..web_api import iso
from . import notices, queries
from .models import FEEDBACK_FIELDS, Actor, Appointment, Feedback, Referral, ReferralState
from .queries import partner_ids, partner_may_see

S = ReferralState

# The liaison's work, in the order the portal shows it: (key, states, title).
GROUPS: tuple[tuple[str, tuple[ReferralState, ...], Any], ...] = (
    ("acknowledge", (S.SENT,), _l("New referrals to acknowledge")),
    ("schedule", (S.ACKNOWLEDGED, S.MISSED), _l("Appointments to arrange")),
    ("attendance", (S.SCHEDULED,), _l("Appointments to confirm")),
    ("feedback", (S.ATTENDED,), _l("Feedback due")),
    ("done", (S.FEEDBACK, S.CLOSED), _l("Feedback sent")),
)
# Why a liaison reads nothing of a referral addressed to their organisation.
WITHDRAWN, DECLINED, ENDED = "withdrawn", "declined", "ended"
ACCESS_LABELS = {
    WITHDRAWN: _l("Withdrawn"),
    DECLINED: _l("Declined by your organisation"),
    ENDED: _l("Access ended"),
}
ACCESS_TEXTS = {
    WITHDRAWN: _l("This referral was withdrawn. Nothing of it is shown any more."),
    DECLINED: _l(
        "Your organisation declined this referral; the district counselling centre "
        "handles it now. Nothing of it is shown any more."
    ),
    ENDED: _l("Your access to this closed referral has ended. Nothing of it is shown any more."),
}


@dataclass(frozen=True)
class Group:
    key: str
    title: Any
    referrals: list[Referral]


def liaison_queue(session: Session, principal: Principal, now: dt.datetime) -> list[Group]:
    """The liaison's referrals (``queries.partner_referrals``: consent and expiry checked), by
    what each waits for. Reads no content (the portal audits what it then shows)."""
    found = queries.partner_referrals(session, principal, now)
    return [
        Group(key, title, [r for r in found if r.state in states]) for key, states, title in GROUPS
    ]


def reference(referral_id: uuid.UUID) -> str:
    """The short reference people quote on the phone (the id's first eight characters)."""
    return str(referral_id)[:8].upper()


def access_of(
    session: Session, principal: Principal, referral: Referral | None, now: dt.datetime
) -> str | None:
    """``"open"`` when the liaison may read the referral; otherwise why not when it was sent to
    their organisation (withdrawn, declined, ended); ``None`` when it never was theirs."""
    if referral is None or referral.sent_at is None:
        return None
    mine = partner_ids(principal)
    if referral.partner_id in mine and partner_may_see(session, principal, referral, now):
        return "open"
    if any(str(p) in (referral.declined_by or []) for p in mine):
        return DECLINED  # then sent elsewhere, returned to the school or closed
    if referral.partner_id not in mine:
        return None
    if referral.state == S.CLOSED and referral.access_expires_at is not None and (
        referral.access_expires_at <= now
    ):  # fmt: skip
        return ENDED
    return WITHDRAWN  # cancelled, withdrawn, or the consent it rested on no longer holds


def partner_document(
    referral: Referral,
    data: dict[str, Any],
    appointments: list[Appointment],
    feedback: Feedback | None,
) -> dict[str, Any]:
    """The referral as the liaison reads it (API, export): minimum dataset and own records."""
    return {
        "id": str(referral.id),
        "reference": reference(referral.id),
        "state": str(referral.state),
        "urgency": referral.urgency,
        "sent_at": iso(referral.sent_at),
        "acknowledged_at": iso(referral.acknowledged_at),
        "due_at": iso(referral.due_at),
        "appointment_at": iso(referral.appointment_at),
        "access_expires_at": iso(referral.access_expires_at),
        "dataset": data,
        "appointments": [
            {"at": iso(a.scheduled_for), "note": a.note, "attendance": a.attendance}
            for a in appointments
        ],
        "feedback": (
            None
            if feedback is None
            else {name: getattr(feedback, name) for name in FEEDBACK_FIELDS}
            | {"advises_return": feedback.advises_return, "at": iso(feedback.created_at)}
        ),
    }


# --------------------------------------------------------------------------- confirmations


def told_counts(session: Session, referral: Referral, actor_id: uuid.UUID) -> dict[str, int]:
    """How many people of each group :data:`.notices.TELL` told of the referral's new state
    (the person who moved it excluded, as :func:`.notices.tell_next` does)."""
    whom = notices.TELL.get(ReferralState(referral.state), ())
    counts: dict[str, int] = {}
    seen: set[uuid.UUID] = {actor_id}
    for who in whom:
        people = [u for u in notices.people(session, referral, who) if u.id not in seen]
        seen |= {u.id for u in people}
        counts[str(who)] = len(people)
    return counts


def _told(who: str, n: int) -> str:
    if who == Actor.SENDER:
        return ngettext("%(num)d psychology teacher of the school",
                        "%(num)d psychology teachers of the school", n)  # fmt: skip
    if who == Actor.CENTRE:
        return ngettext("%(num)d counsellor of the district centre",
                        "%(num)d counsellors of the district centre", n)  # fmt: skip
    return ngettext("%(num)d other liaison of your organisation",
                    "%(num)d other liaisons of your organisation", n)  # fmt: skip


def told_summary(counts: dict[str, int]) -> str:
    """``Told in the app and by e-mail (…): 2 psychology teachers of the school, …``."""
    parts = [_told(who, n) for who, n in counts.items() if n]
    if not parts:
        return gettext("Nobody else has an account to be told of it.")
    separator = "、" if str(get_locale() or "").startswith("zh") else ", "
    return gettext("Told in the app and by e-mail (without the student's name): %(whom)s.",
                   whom=separator.join(parts))  # fmt: skip
