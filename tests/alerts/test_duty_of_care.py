"""A few simulated weeks of the duty-of-care simulation (bench/duty_of_care.py) on a fresh
database: real services, the scheduler's jobs on a controlled clock, a real SMTP server with an
outage, staff who sometimes never respond. Every alert must be acknowledged by someone on its
ladder and none may be lost."""

from __future__ import annotations

import pytest

from bench.duty_of_care import simulate

from ..conftest import BACKENDS


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_every_alert_is_acknowledged_by_someone_on_its_ladder(fresh_env):
    result = simulate(
        fresh_env.db, fresh_env.settings, days=21, students=1500, seed=11, rate=0.0015
    )
    assert result.violations == []
    assert result.raised >= 10
    assert result.acknowledged == result.raised and result.open_at_end == 0
    assert len(result.ack_minutes) == result.raised
    assert result.steps["raise"] == result.raised
    assert result.emails_queued > 0 and result.emails_sent == result.smtp_received
    assert result.outage_hours > 0
