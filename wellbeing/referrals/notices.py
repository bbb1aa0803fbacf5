"""Telling the next actor: an in-app notice (``notify.Notice``) and an e-mail through the outbox,
in the recipient's language, with a link and never a name, a reason or a score.

Who is told of each move is :data:`TELL` (the actor who acts next first, then who must know);
the person who made the move is never told of it. Links: staff open ``/referrals/<id>``,
partner liaisons ``/partner/referrals/<id>`` (the pages of the referral views and the portal).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..alerts.notify import alert_settings
from ..auth.models import Membership, User
from ..core.authz import Role
from ..core.states import state_label
from ..notify.models import Notice
from ..notify.services import post_notice, queue_email, translations
from .models import Actor, Referral, ReferralEvent, ReferralState

S, A = ReferralState, Actor
LEADER = "leader"  # the school's leaders (told of an emergency override)
NOTICE_KIND = "referral_move"
OVERRIDE_KIND = "referral_override"
SLA_KIND = "referral_sla"

# After a move to the key state: who is told (the next actor first).
TELL: dict[ReferralState, tuple[str, ...]] = {
    S.SUBMITTED: (A.CENTRE,),
    S.RETURNED: (A.SENDER,),
    S.ACCEPTED: (A.SENDER,),
    S.SENT: (A.PARTNER, A.SENDER, A.CENTRE),
    S.ACKNOWLEDGED: (A.SENDER, A.CENTRE),
    S.DECLINED: (A.CENTRE, A.SENDER),
    S.SCHEDULED: (A.SENDER, A.CENTRE),
    S.ATTENDED: (A.SENDER, A.CENTRE),
    S.MISSED: (A.CENTRE, A.SENDER),
    S.FEEDBACK: (A.SENDER, A.CENTRE),
    S.CLOSED: (A.SENDER, A.CENTRE, A.PARTNER),
    S.WITHDRAWN: (A.CENTRE, A.PARTNER),
    S.CANCELLED: (A.SENDER, A.CENTRE, A.PARTNER),
}

NOTICE_LABELS = {
    NOTICE_KIND: _l("A referral changed: %(state)s"),
    OVERRIDE_KIND: _l("A student of your school was referred without guardian consent "
                      "(emergency override)."),
    SLA_KIND: _l("A referral is overdue: %(state)s"),
}  # fmt: skip


def people(session: Session, referral: Referral, who: str) -> list[User]:
    """The active users who are ``who`` (an Actor or LEADER) for this referral."""
    stmt = select(User).join(Membership, Membership.user_id == User.id).where(User.active.is_(True))
    if who == A.SENDER:
        stmt = stmt.where(Membership.role == Role.PSYCH_TEACHER,
                          Membership.school_id == referral.school_id,
                          Membership.class_id.is_(None))  # fmt: skip
    elif who == LEADER:
        stmt = stmt.where(Membership.role == Role.SCHOOL_LEADER,
                          Membership.school_id == referral.school_id)  # fmt: skip
    elif who == A.CENTRE and referral.submitted_at is not None:  # a draft is the school's
        stmt = stmt.where(Membership.role == Role.COUNSELLOR,
                          Membership.district_id == referral.district_id)  # fmt: skip
    elif who == A.PARTNER and referral.partner_id is not None:
        stmt = stmt.where(Membership.role == Role.PARTNER,
                          Membership.partner_id == referral.partner_id)  # fmt: skip
    else:
        return []
    return list({u.id: u for u in session.scalars(stmt.order_by(User.username))}.values())


def referral_url(referral: Referral, partner: bool) -> str:
    base = alert_settings().base_url.rstrip("/")
    return (
        f"{base}/partner/referrals/{referral.id}" if partner else f"{base}/referrals/{referral.id}"
    )


def email_text(locale: str | None, kind: str, url: str) -> tuple[str, str]:
    """Subject and body in the recipient's language: a link, no name, no content."""
    _ = translations(locale).gettext
    if kind == OVERRIDE_KIND:
        subject = _("A referral was made without guardian consent")
        body = _("A student of your school was referred in an emergency without guardian "
                 "consent. Please review it: %(url)s")  # fmt: skip
    elif kind == SLA_KIND:
        subject = _("A referral is overdue")
        body = _("A referral is past its deadline: %(url)s")
    else:
        subject = _("A referral needs your attention")
        body = _("A referral has changed and may need your attention: %(url)s")
    return subject, body % {"url": url} + "\n"


def tell(
    session: Session,
    referral: Referral,
    whom: Iterable[str],
    *,
    kind: str,
    ref: str,
    exclude: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """A notice and an e-mail to each person who is one of ``whom``; returns their ids."""
    told: list[uuid.UUID] = []
    for who in whom:
        for user in people(session, referral, who):
            if user.id == exclude or user.id in told:
                continue
            params = {"referral": str(referral.id), "state": str(referral.state)}
            if post_notice(session, user.id, kind, ref, params) is None:
                continue
            told.append(user.id)
            if user.email:
                url = referral_url(referral, partner=who == A.PARTNER)
                subject, body = email_text(user.locale, kind, url)
                queue_email(session, user=user, subject=subject, body=body, kind=kind)
    return told


def tell_next(
    session: Session, referral: Referral, event: ReferralEvent, *, extra: tuple[str, ...] = ()
) -> list[uuid.UUID]:
    """Tell who :data:`TELL` names for the referral's new state (and ``extra``)."""
    whom = TELL.get(ReferralState(referral.state), ()) + extra
    return tell(session, referral, whom, kind=NOTICE_KIND, ref=str(event.id), exclude=event.by_id)


def notice_text(notice: Notice) -> str:
    """A referral notice as its reader sees it (in the request's language)."""
    label = NOTICE_LABELS.get(notice.kind)
    if label is None:
        return ""
    state = notice.params.get("state") or ""
    name = state_label(ReferralState(state)) if state in tuple(ReferralState) else ""
    return str(label) % {"state": name} if "%(state)s" in str(label) else str(label)
