"""Two people moving one referral at once: exactly one move wins.

On PostgreSQL the move locks the row (``SELECT … FOR UPDATE``): the second waits, and once the
first commits it reads the new state and is refused (409). Everywhere, the ``version`` column
refuses a write based on a stale read (``ReferralConflict``, 409)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from wellbeing.core.errors import DomainError
from wellbeing.referrals import moving, services
from wellbeing.referrals.models import Referral, ReferralEvent, ReferralState

from ..conftest import BACKENDS
from .helpers import make_world, walk_to

S = ReferralState


def _sent(env):  # type: ignore[no-untyped-def]
    with env.db.session() as session:
        world = make_world(session, env.settings)
        referral = walk_to(session, world, S.SENT)
        return referral.id, world.people


def _acknowledged_events(env, referral_id) -> int:  # type: ignore[no-untyped-def]
    with env.db.session() as session:
        return session.scalar(
            select(func.count()).where(ReferralEvent.referral_id == referral_id,
                                       ReferralEvent.to_state == S.ACKNOWLEDGED)
        )  # fmt: skip


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_a_stale_write_is_refused_by_the_version(fresh_env):
    referral_id, people = _sent(fresh_env)
    first, second = fresh_env.db.sessionmaker(), fresh_env.db.sessionmaker()
    try:
        stale = second.get(Referral, referral_id)
        assert stale is not None and stale.version >= 1
        second.commit()  # SQLite: end the read transaction; the object keeps its version
        services.acknowledge(first, people["partner_a"], referral_id)
        first.commit()
        stale.state = S.DECLINED  # a move computed from what it read before
        with pytest.raises(services.ReferralConflict) as refused:
            moving.flush(second)
        assert refused.value.status == 409
        second.rollback()
    finally:
        first.close()
        second.close()
    with fresh_env.db.session() as session:
        assert session.get(Referral, referral_id).state == S.ACKNOWLEDGED
    assert _acknowledged_events(fresh_env, referral_id) == 1


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL row locks")
@pytest.mark.parametrize("fresh_env", ["postgresql"], indirect=True)
def test_two_sessions_moving_at_once_only_one_wins(fresh_env):
    referral_id, people = _sent(fresh_env)
    first, second = fresh_env.db.sessionmaker(), fresh_env.db.sessionmaker()
    try:
        services.acknowledge(first, people["partner_a"], referral_id)  # holds the row
        second.execute(text("SET LOCAL lock_timeout = '1s'"))
        with pytest.raises(OperationalError):  # the second waits for the row: not both
            services.decline(second, people["partner_a"], referral_id, "已满")
        second.rollback()
        first.commit()
        with pytest.raises(DomainError) as refused:  # then it sees the first one's move
            services.acknowledge(second, people["partner_a"], referral_id)
        assert refused.value.status == 409
        second.rollback()
    finally:
        first.close()
        second.close()
    with fresh_env.db.session() as session:
        assert session.get(Referral, referral_id).state == S.ACKNOWLEDGED
    assert _acknowledged_events(fresh_env, referral_id) == 1
