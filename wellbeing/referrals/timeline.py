"""The referrals part of the growth-record timeline.

* ``referral``: each move of each referral the viewer may read (``transitions.may_read``: the
  school's psychology teachers and leaders, the district centre): the new state, who made the
  move in which capacity, the partner; a link to the referral (whose page shows the reasons,
  audited). Never a reason.
* ``referral_feedback``: the partner's feedback; in full (summary, return-to-school advice,
  recommendations for the school) to the sender and the centre, as "feedback received" to the
  school's leaders (summary item).
"""

from __future__ import annotations

import datetime as dt

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.authz import Permission, Principal, can
from ..core.states import state_label
from ..db import utcnow
from ..students.models import Student
from ..students.timeline import TimelineItem, in_range, names_of, newest, summary
from .models import ACTOR_LABELS, Actor, Feedback, Referral, ReferralEvent, ReferralState
from .record import partner_names
from .transitions import actors_of, may_read

KINDS = {"referral": _l("Referrals"), "referral_feedback": _l("Feedback from partners")}
FEEDBACK_READERS = frozenset({Actor.SENDER, Actor.CENTRE})


def items(
    session: Session, principal: Principal, student: Student,
    since: dt.datetime | None, until: dt.datetime | None,
) -> list[TimelineItem]:  # fmt: skip
    if not can(principal, Permission.REFERRALS_READ, student):
        return []
    now = utcnow()
    referrals = {
        r.id: r for r in newest(session, Referral, Referral.created_at, student, None, None)
        if may_read(principal, r, now)
    }  # fmt: skip
    if not referrals:
        return []
    events = session.scalars(
        select(ReferralEvent).where(ReferralEvent.referral_id.in_(referrals),
                                    *in_range(ReferralEvent.at, since, until))
        .order_by(ReferralEvent.at.desc())
    ).all()  # fmt: skip
    names = names_of(session, {e.by_id for e in events})
    partners = partner_names(session, {e.partner_id for e in events})
    found: list[TimelineItem] = []
    for event in events:
        lines = [str(_l("State: %(state)s", state=state_label(ReferralState(event.to_state))))]
        if event.partner_id in partners:
            lines.append(str(_l("Health partner: %(name)s", name=partners[event.partner_id])))
        found.append(TimelineItem(
            at=event.at, kind="referral", title=str(_l("Referral")), lines=tuple(lines),
            actor=_who(names.get(event.by_id), event.actor),
            url=url_for("referrals.detail", referral_id=event.referral_id),
            fields=("timeline.referral.state", "timeline.referral.partner"),
        ))  # fmt: skip
    feedback = session.scalars(
        select(Feedback).where(Feedback.referral_id.in_(referrals),
                               *in_range(Feedback.created_at, since, until))
    ).all()  # fmt: skip
    for row in feedback:
        if not actors_of(principal, referrals[row.referral_id], now) & FEEDBACK_READERS:
            found.append(summary(row.created_at, "referral_feedback", _l("Feedback received")))
            continue
        lines = [str(_l("Summary: %(text)s", text=row.summary or ""))]
        if row.advises_return:
            lines.append(str(_l("The partner advises a return to school (复学).")))
        if row.for_school:
            lines.append(str(_l("For the school: %(text)s", text=row.for_school)))
        found.append(TimelineItem(
            at=row.created_at, kind="referral_feedback", title=str(_l("Feedback from the partner")),
            lines=tuple(lines), url=url_for("referrals.detail", referral_id=row.referral_id),
            fields=("timeline.referral_feedback.content",),
        ))  # fmt: skip
    return found


def _who(name: str | None, actor: str) -> str:
    label = ACTOR_LABELS.get(Actor(actor)) if actor in tuple(Actor) else None
    if name and label:
        return str(_l("%(name)s (%(role)s)", name=name, role=label))
    return name or str(label or "")
