"""Who the acting person is to a referral, and the check of one move against :data:`.MOVES`.

The order of the checks is the contract of every move (``tests/referrals/test_moves.py`` holds
the hand-written table of every state × move × role):

1. a person who may not even see the referral gets ``NotFound`` (404: a partner never learns
   that another organisation's referral exists);
2. a move the table does not have from the current state is ``IllegalTransition`` (409);
3. a move the table has, made by someone who is none of the actors of that edge, is
   ``Forbidden`` (403, audited by the web layer as a denied access).

Nothing is written before all three pass.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l

from ..core.authz import Forbidden, Permission, Principal, Role, can
from ..core.states import IllegalTransition
from .models import (
    ACTOR_LABELS,
    MOVES,
    PARTNER_STATES,
    REFERRAL_STATES,
    Actor,
    Referral,
    ReferralState,
)

# The permission a refused actor would have needed (recorded in the denied-access entry).
ACTOR_PERMISSION = {
    Actor.SENDER: Permission.REFERRALS_CREATE,
    Actor.CENTRE: Permission.REFERRALS_TRIAGE,
    Actor.PARTNER: Permission.PARTNER_REFERRALS,
    Actor.SYSTEM: Permission.REFERRALS_TRIAGE,
}
# When one person holds several actor roles on a referral, the one recorded for a move.
PREFERENCE = (Actor.SENDER, Actor.CENTRE, Actor.PARTNER)


def in_district(principal: Principal, referral: Referral, role: Role) -> bool:
    return any(
        s.role == role and (s.district_id is None or s.district_id == referral.district_id)
        for s in principal.scopes
    )


def partner_access_open(referral: Referral, now: dt.datetime) -> bool:
    """The addressed partner's access by state and time alone (consent is checked by
    :func:`.queries.partner_may_see`, which also reads the guardian-contact log)."""
    if referral.partner_id is None or referral.state not in PARTNER_STATES:
        return False
    if not referral.has_basis:
        return False
    return referral.access_expires_at is None or referral.access_expires_at > now


def centre_reaches(referral: Referral) -> bool:
    """The district centre sees a referral once it left the school (submitted, or sent
    straight to a partner): a draft is the school's alone (DESIGN.md §1: counsellors see only
    students escalated or referred)."""
    return referral.submitted_at is not None


def actors_of(principal: Principal, referral: Referral, now: dt.datetime) -> frozenset[Actor]:
    """The actor roles ``principal`` holds on ``referral`` (none: they may make no move)."""
    actors: set[Actor] = set()
    if can(principal, Permission.REFERRALS_CREATE, referral) and any(
        s.role == Role.PSYCH_TEACHER and s.school_id == referral.school_id and s.class_id is None
        for s in principal.scopes
    ):
        actors.add(Actor.SENDER)
    if (
        centre_reaches(referral)
        and can(principal, Permission.REFERRALS_TRIAGE, referral)
        and in_district(principal, referral, Role.COUNSELLOR)
    ):
        actors.add(Actor.CENTRE)
    if (
        referral.partner_id is not None
        and can(principal, Permission.PARTNER_REFERRALS, referral)
        and any(s.role == Role.PARTNER and s.partner_id == referral.partner_id
                for s in principal.scopes)
        and partner_access_open(referral, now)
    ):  # fmt: skip
        actors.add(Actor.PARTNER)
    return frozenset(actors)


def may_read(principal: Principal, referral: Referral, now: dt.datetime) -> bool:
    """Sender, centre, the school's leaders (REFERRALS_READ on the school's referrals) and
    the addressed partner while their access is open."""
    if actors_of(principal, referral, now):
        return True
    return can(principal, Permission.REFERRALS_READ, referral) and any(
        (s.role in {Role.SCHOOL_LEADER, Role.PSYCH_TEACHER} and s.school_id == referral.school_id)
        or (
            s.role == Role.COUNSELLOR
            and s.district_id in {None, referral.district_id}
            and centre_reaches(referral)
        )
        for s in principal.scopes
    )


def check_move(referral: Referral, target: ReferralState, actors: frozenset[Actor]) -> Actor:
    """The actor who makes the move ``referral.state → target``, or the refusal (409 when the
    table has no such move, 403 when the person is none of its actors). Changes nothing."""
    current = ReferralState(referral.state)
    edge = (current, target)
    if edge not in MOVES:
        REFERRAL_STATES.check_move(current, target)  # raises IllegalTransition
        raise IllegalTransition(_l("This referral cannot change in this way now."))
    allowed = MOVES[edge] & actors
    if not allowed:
        needed = sorted(MOVES[edge])[0]
        raise Forbidden(
            ACTOR_PERMISSION[needed], referral, rule=f"referral_{needed}_only",
            message=_l("Only %(who)s may make this change to the referral.",
                       who=_actor_names(MOVES[edge])),
        )  # fmt: skip
    if Actor.SYSTEM in allowed:
        return Actor.SYSTEM
    return next(a for a in PREFERENCE if a in allowed)


def _actor_names(actors: frozenset[Actor]) -> str:
    return " / ".join(str(ACTOR_LABELS[a]) for a in sorted(actors))
