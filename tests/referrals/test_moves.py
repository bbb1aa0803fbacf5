"""Every move from every state for every role, through the services (issue 15 item 9).

The table below is written by hand from DESIGN.md §4 and issue 15 item 2, not derived from
``models.MOVES``: it is what the code must match. For each (state, move):

* the roles it ALLOWS move the referral to the new state, with one history row, one
  ``REFERRAL_MOVE`` audit entry and a notice (and an outbox e-mail) for the next actor;
* a role that may not see the referral gets ``NotFound`` (404), whatever the move;
* a move the table does not have from that state is ``IllegalTransition`` (409);
* a move the table has, by a role that is not its actor, is ``Forbidden`` (403);
and a refusal changes nothing (state, version, history, audit, notices, outbox).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from wellbeing.audit.models import AuditEntry
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden
from wellbeing.core.errors import NotFound
from wellbeing.core.states import IllegalTransition
from wellbeing.notify.models import Notice, OutboxMessage
from wellbeing.referrals.models import Referral, ReferralEvent, ReferralState

from .helpers import MOVES, ROLES, do, make_world, walk_to

S = ReferralState

# (state, move) -> (roles allowed, new state). Everything else is illegal (409).
ALLOWED = {
    (S.DRAFT, "submit"): ({"sender"}, S.SUBMITTED),
    (S.DRAFT, "send"): ({"sender"}, S.SENT),  # red-tier student: straight to a partner
    (S.DRAFT, "withdraw"): ({"sender"}, S.WITHDRAWN),
    (S.RETURNED, "submit"): ({"sender"}, S.SUBMITTED),
    (S.RETURNED, "withdraw"): ({"sender"}, S.WITHDRAWN),
    (S.SUBMITTED, "accept"): ({"centre"}, S.ACCEPTED),
    (S.SUBMITTED, "return"): ({"centre"}, S.RETURNED),
    (S.SUBMITTED, "withdraw"): ({"sender"}, S.WITHDRAWN),
    (S.ACCEPTED, "send"): ({"centre"}, S.SENT),
    (S.ACCEPTED, "return"): ({"centre"}, S.RETURNED),
    (S.ACCEPTED, "withdraw"): ({"sender"}, S.WITHDRAWN),
    (S.SENT, "acknowledge"): ({"partner_a"}, S.ACKNOWLEDGED),
    (S.SENT, "decline"): ({"partner_a"}, S.DECLINED),
    (S.SENT, "withdraw"): ({"sender"}, S.WITHDRAWN),
    (S.DECLINED, "send"): ({"centre"}, S.SENT),
    (S.DECLINED, "return"): ({"centre"}, S.RETURNED),
    (S.DECLINED, "close"): ({"centre"}, S.CLOSED),
    (S.DECLINED, "withdraw"): ({"sender"}, S.WITHDRAWN),
    (S.ACKNOWLEDGED, "schedule"): ({"partner_a"}, S.SCHEDULED),
    (S.SCHEDULED, "attended"): ({"partner_a"}, S.ATTENDED),
    (S.SCHEDULED, "missed"): ({"partner_a"}, S.MISSED),
    (S.MISSED, "schedule"): ({"partner_a"}, S.SCHEDULED),
    (S.MISSED, "close"): ({"centre"}, S.CLOSED),
    (S.ATTENDED, "feedback"): ({"partner_a"}, S.FEEDBACK),
    (S.FEEDBACK, "close"): ({"sender", "centre"}, S.CLOSED),
}
# Who sees a referral in each state (everyone else gets 404). Partner A is the addressee.
STAFF_SEE = {"sender", "centre", "leader"}
PARTNER_A_SEES = {S.SENT, S.ACKNOWLEDGED, S.SCHEDULED, S.ATTENDED, S.MISSED, S.FEEDBACK, S.CLOSED}


# The centre sees a referral once it left the school: not a draft, nor a draft withdrawn.
CENTRE_NEVER_SAW = {S.DRAFT, S.WITHDRAWN}


def sees(role: str, state: ReferralState) -> bool:
    if role == "centre":
        return state not in CENTRE_NEVER_SAW
    return role in STAFF_SEE or (role == "partner_a" and state in PARTNER_A_SEES)


def expected(state: ReferralState, move: str, role: str) -> object:
    if not sees(role, state):
        return NotFound
    if (state, move) not in ALLOWED:
        return IllegalTransition
    roles, target = ALLOWED[(state, move)]
    return target if role in roles else Forbidden


def snapshot(session, referral_id):  # type: ignore[no-untyped-def]
    session.expire_all()
    referral = session.get(Referral, referral_id)
    count = lambda model: session.scalar(select(func.count()).select_from(model))  # noqa: E731
    return (
        referral.state, referral.version,
        session.scalar(select(func.count()).where(ReferralEvent.referral_id == referral_id)),
        count(AuditEntry), count(Notice), count(OutboxMessage),
    )  # fmt: skip


CASES = [(state, move) for state in ReferralState for move in MOVES]


@pytest.mark.parametrize(("state", "move"), CASES, ids=[f"{s}-{m}" for s, m in CASES])
def test_every_move_from_every_state_for_every_role(db_session, env, state, move):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, state)
    allowed: list[tuple[str, ReferralState]] = []
    for role in ROLES:
        outcome = expected(state, move, role)
        if isinstance(outcome, ReferralState):
            allowed.append((role, outcome))
            continue
        before = snapshot(db_session, referral.id)
        with pytest.raises(outcome), db_session.begin_nested():  # type: ignore[call-overload]
            do(db_session, world, referral, move, role)
        assert snapshot(db_session, referral.id) == before, (role, "changed on refusal")
    for role, target in allowed:
        nested = db_session.begin_nested()
        before = snapshot(db_session, referral.id)
        do(db_session, world, referral, move, role)
        db_session.flush()
        after = snapshot(db_session, referral.id)
        assert after[0] == target
        assert after[1] > before[1]  # version
        assert after[2] == before[2] + 1  # one history row
        event = db_session.scalars(
            select(ReferralEvent).where(ReferralEvent.referral_id == referral.id)
            .order_by(ReferralEvent.at.desc(), ReferralEvent.id).limit(5)
        ).all()  # fmt: skip
        assert any(e.from_state == state and e.to_state == target for e in event)
        moves = db_session.scalars(
            select(AuditEntry).where(AuditEntry.action == str(AuditAction.REFERRAL_MOVE),
                                     AuditEntry.object_id == str(referral.id))
        ).all()  # fmt: skip
        assert any(m.detail["from"] == state and m.detail["to"] == target for m in moves)
        if (state, move) != (S.DRAFT, "withdraw"):  # a draft withdrawn: nobody else saw it
            assert after[4] > before[4], "the next actor gets a notice"
            assert after[5] > before[5], "and an e-mail through the outbox"
        for mail in db_session.scalars(select(OutboxMessage)).all():
            assert world.student.name not in mail.subject + mail.body  # a link, never a name
            assert referral.reason not in mail.body
        nested.rollback()


def test_the_hand_written_table_is_the_models_table():
    """Every edge of the hand-written table is in MOVES with the same actor set, and MOVES
    has no human edge the table lacks (the system's cancellations are tested on their own)."""
    from wellbeing.referrals.models import MOVES as MODEL_MOVES
    from wellbeing.referrals.models import Actor

    role_actor = {"sender": Actor.SENDER, "centre": Actor.CENTRE, "partner_a": Actor.PARTNER}
    written = {(s, t): {role_actor[r] for r in roles} for (s, _m), (roles, t) in ALLOWED.items()}
    human = {
        edge: set(actors) for edge, actors in MODEL_MOVES.items() if Actor.SYSTEM not in actors
    }
    assert written == human
