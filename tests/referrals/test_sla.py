"""SLAs: deadlines stored at each move (partner's calendar), the overdue scan raising one
``referral_sla`` alert per overdue milestone, the centre's queue, dashboard figures."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from wellbeing.alerts.models import Alert
from wellbeing.db import utcnow
from wellbeing.notify.models import Notice
from wellbeing.referrals import partners, queries, services, sla
from wellbeing.referrals.calendar import partner_calendar
from wellbeing.referrals.jobs import JOBS
from wellbeing.referrals.models import ReferralState
from wellbeing.referrals.notices import SLA_KIND

from .helpers import do, draft, make_world, walk_to

S = ReferralState


def test_each_move_stores_the_next_deadline(db_session, env):
    world = make_world(db_session, env.settings, tier=2)
    referral = draft(db_session, world, urgency="routine")
    assert referral.due_at is None
    services.submit(db_session, world.people["sender"], referral.id)
    assert referral.due_milestone == "triage" and referral.due_at > referral.submitted_at
    services.accept(db_session, world.people["centre"], referral.id)
    assert referral.due_milestone == "send"
    services.send(db_session, world.people["centre"], referral.id, world.partner_a.id)
    calendar = partner_calendar(db_session, world.partner_a)
    assert referral.due_milestone == "acknowledge"
    assert referral.due_at == calendar.add_working_days(
        referral.sent_at, world.partner_a.ack_working_days
    )
    services.acknowledge(db_session, world.people["partner_a"], referral.id)
    assert referral.due_milestone == "appointment"
    do(db_session, world, referral, "schedule", "partner_a")
    assert referral.due_milestone == "attendance" and referral.due_at > referral.appointment_at
    do(db_session, world, referral, "attended", "partner_a")
    assert referral.due_milestone == "feedback"
    do(db_session, world, referral, "feedback", "partner_a")
    assert referral.due_at is None and referral.due_milestone is None


def test_a_red_tier_referral_is_due_in_working_hours(db_session, env):
    world = make_world(db_session, env.settings, tier=3)
    referral = walk_to(db_session, world, S.SENT)
    calendar = partner_calendar(db_session, world.partner_a)
    assert referral.due_at == calendar.add_working_hours(
        referral.sent_at, world.partner_a.red_ack_hours
    )


def test_a_partners_own_holiday_moves_its_deadline(db_session, env):
    world = make_world(db_session, env.settings, tier=2)
    referral = walk_to(db_session, world, S.ACCEPTED)
    calendar = partner_calendar(db_session, world.partner_a)
    now = utcnow()
    plain = calendar.add_working_days(now, world.partner_a.ack_working_days)
    for offset in range(1, 10):  # every day until the deadline is a holiday of this partner
        partners.set_calendar_day(db_session, None, world.school.district_id,
                                  plain.astimezone(calendar.tz).date() - dt.timedelta(days=offset - 1),
                                  False, label="院庆", partner_id=world.partner_a.id)  # fmt: skip
    services.send(db_session, world.people["centre"], referral.id, world.partner_a.id, now=now)
    assert referral.due_at > plain
    # The district's calendar (other partners) is not changed by it.
    assert partner_calendar(db_session, world.partner_b).add_working_days(now, 2) <= plain


def _alerts(session, referral) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(Alert.kind == "referral_sla", Alert.student_id == referral.student_id)
    )


def test_the_scan_raises_one_alert_per_overdue_milestone(db_session, env):
    world = make_world(db_session, env.settings, tier=2)
    referral = walk_to(db_session, world, S.SENT)
    assert sla.scan_overdue(db_session, referral.due_at - dt.timedelta(minutes=1)) == 0
    late = referral.due_at + dt.timedelta(hours=1)
    assert sla.scan_overdue(db_session, late) == 1
    assert _alerts(db_session, referral) == 1
    assert sla.scan_overdue(db_session, late + dt.timedelta(hours=5)) == 0  # once
    centre = world.users["centre"]
    assert db_session.scalar(select(func.count()).select_from(Notice).where(
        Notice.user_id == centre.id, Notice.kind == SLA_KIND)) == 1  # fmt: skip
    # The next milestone overdue raises its own.
    services.acknowledge(db_session, world.people["partner_a"], referral.id, now=late)
    assert sla.scan_overdue(db_session, referral.due_at + dt.timedelta(hours=1)) == 1
    assert _alerts(db_session, referral) == 2
    assert [j.id for j in JOBS] == ["referrals.sla_scan"]


def test_the_centres_queue_puts_the_most_overdue_first(db_session, env):
    world = make_world(db_session, env.settings, tier=2)
    first = walk_to(db_session, world, S.SUBMITTED)
    second = walk_to(db_session, world, S.SUBMITTED)
    second.due_at = first.due_at - dt.timedelta(days=3)
    db_session.flush()
    rows = queries.centre_queue(
        db_session, world.school.district_id, first.due_at + dt.timedelta(days=1)
    )
    ids = [r.referral.id for r in rows]
    assert ids.index(second.id) < ids.index(first.id)
    assert rows[ids.index(second.id)].overdue > rows[ids.index(first.id)].overdue


def test_dashboard_figures(db_session, env):
    world = make_world(db_session, env.settings, tier=2)
    walk_to(db_session, world, S.SUBMITTED)
    done = walk_to(db_session, world, S.FEEDBACK)
    counts = queries.open_by_state(db_session, world.school.district_id)
    assert counts["submitted"] >= 1 and counts["feedback"] >= 1 and "closed" not in counts
    [row] = [t for t in queries.turnaround(db_session, world.school.district_id)
             if t.partner_id == world.partner_a.id]  # fmt: skip
    assert row.acknowledged >= 1 and row.with_feedback >= 1
    assert row.ack_median is not None and row.ack_median >= 0
    assert done.feedback_at is not None
    assert queries.percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9) == 9.1
    assert queries.percentile([], 0.5) is None
