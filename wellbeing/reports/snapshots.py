"""Monthly tier snapshots (issue 16 item 1): the history of the tiers report.

Students move school, change class, leave and change tier; counting today's students by their
tier "as of" a past month would rewrite history each time. So once a month (and again on each
run while the month lasts) the job copies the live counts of enrolled students per school,
grade and tier into ``tier_snapshot`` under the month's key ("YYYY-MM", the district's local
calendar), with one ``INSERT ... SELECT ... GROUP BY`` on the covering index
``ix_student_status_school_grade_tier``.

A month is *open* while the district's calendar is in it and no later month has a snapshot;
re-running the job in an open month replaces that month's rows (the latest counts of the month
win), and a closed month is never written again (:class:`ClosedMonth`).

The coverage tally (:func:`tally_coverage`, every few minutes): each running campaign's
screening coverage per school and grade, which the district view of the coverage report reads.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, String, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from ..core.errors import DomainError
from ..db import UTCDateTime
from ..screening.models import Campaign, CampaignSchool
from ..students.models import Student, StudentStatus
from .library import coverage
from .models import CoverageTally, TierSnapshot

TALLY_AFTER_CLOSE = dt.timedelta(days=30)


class ClosedMonth(DomainError):
    code = "month_closed"


def month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def local_month(now: dt.datetime, tz: dt.tzinfo) -> str:
    """The month key of ``now`` in the district's calendar."""
    return month_key(now.astimezone(tz).date())


def months_between(start: dt.date, end: dt.date) -> list[str]:
    """Every month key from ``start``'s month to ``end``'s, both included."""
    out, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def shift_month(key: str, months: int) -> str:
    year, month = (int(part) for part in key.split("-"))
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def latest_month(session: Session) -> str | None:
    return session.scalar(select(func.max(TierSnapshot.month)))


def take_snapshot(session: Session, now: dt.datetime, tz: dt.tzinfo) -> int:
    """Replace the current month's snapshot with the live counts; the number of rows written.

    :class:`ClosedMonth` when a later month already has a snapshot (a clock set back must not
    rewrite a closed month)."""
    month = local_month(now, tz)
    latest = latest_month(session)
    if latest is not None and latest > month:
        raise ClosedMonth(
            _l("The snapshot of %(month)s is closed: %(latest)s already has one."),
            month=month, latest=latest,
        )  # fmt: skip
    session.execute(delete(TierSnapshot).where(TierSnapshot.month == month))
    live = (
        select(
            literal(month, String(7)), Student.school_id, Student.grade, Student.tier,
            func.count().cast(Integer), literal(now, UTCDateTime()),
        )
        .where(Student.status == StudentStatus.ACTIVE)
        .group_by(Student.school_id, Student.grade, Student.tier)
    )  # fmt: skip
    columns = ["month", "school_id", "grade", "tier", "count", "taken_at"]
    session.execute(insert(TierSnapshot).from_select(columns, live))
    # (the driver's rowcount of INSERT ... SELECT is not portable: psycopg may give -1)
    return int(session.scalar(select(func.count()).where(TierSnapshot.month == month)) or 0)


def history(
    session: Session,
    school_ids: Iterable[uuid.UUID],
    months: list[str],
    grade: int | None = None,
) -> dict[str, dict[int, int]]:
    """``{month: {tier: count}}`` of the snapshots of ``months`` summed over ``school_ids``
    (and ``grade``); months without a snapshot are absent. One GROUP BY on the primary key
    (month, school_id, grade, tier)."""
    ids = list(school_ids)
    if not ids or not months:
        return {}
    stmt = (
        select(TierSnapshot.month, TierSnapshot.tier, func.sum(TierSnapshot.count))
        .where(
            TierSnapshot.month >= months[0], TierSnapshot.month <= months[-1],
            TierSnapshot.school_id.in_(ids),
        )
        .group_by(TierSnapshot.month, TierSnapshot.tier)
    )  # fmt: skip
    if grade is not None:
        stmt = stmt.where(TierSnapshot.grade == grade)
    out: dict[str, dict[int, int]] = {}
    for month, tier, count in session.execute(stmt):
        out.setdefault(str(month), {})[int(tier)] = int(count or 0)
    return out


def tally_due(session: Session, today: dt.date) -> list[uuid.UUID]:
    """Campaigns whose coverage the job counts: opened, and not closed more than
    ``TALLY_AFTER_CLOSE`` ago (the last count after that stays as the campaign's)."""
    return list(
        session.scalars(
            select(Campaign.id)
            .where(Campaign.opens_on <= today, Campaign.closes_on >= today - TALLY_AFTER_CLOSE)
            .order_by(Campaign.opens_on, Campaign.id)
        )
    )


def tally_coverage(session: Session, campaign: Campaign, now: dt.datetime) -> int:
    """Replace the campaign's coverage per school and grade (``CoverageTally``) with a count
    now; the rows written."""
    school_ids = sorted(
        session.scalars(
            select(CampaignSchool.school_id).where(CampaignSchool.campaign_id == campaign.id)
        ),
        key=str,
    )
    found = coverage.counts(
        session, campaign, school_ids, coverage.expected_per_grade(campaign), depth=2
    )
    session.execute(delete(CoverageTally).where(CoverageTally.campaign_id == campaign.id))
    session.add_all(
        CoverageTally(
            campaign_id=campaign.id, school_id=path[0], grade=path[1], screened=n[0],
            missing=n[1], voided=n[2], incomplete=n[3], taken_at=now,
        )
        for path, n in found.items()
    )  # fmt: skip
    session.flush()
    return len(found)


def seed_past_months(session: Session, now: dt.datetime, tz: dt.tzinfo, months: int = 6) -> int:
    """Demo only: the current month's snapshot, and ``months`` earlier months made up from it
    where none exists (an eighth fewer students at orange and red for each month back, green
    that many more); returns the months written."""
    current = local_month(now, tz)
    written = 0
    if not session.scalar(select(func.count()).where(TierSnapshot.month == current)):
        take_snapshot(session, now, tz)
        written += 1
    base: dict[tuple[uuid.UUID, int], dict[int, int]] = {}
    for school_id, grade, tier, count in session.execute(
        select(TierSnapshot.school_id, TierSnapshot.grade, TierSnapshot.tier, TierSnapshot.count)
        .where(TierSnapshot.month == current)
    ):  # fmt: skip
        base.setdefault((school_id, grade), {})[int(tier)] = int(count)
    for back in range(1, months + 1):
        month = shift_month(current, -back)
        if session.scalar(select(func.count()).where(TierSnapshot.month == month)):
            continue
        taken = now - dt.timedelta(days=30 * back)
        for (school_id, grade), tiers in base.items():
            counts = dict(tiers)
            for tier in (2, 3):
                moved = min(counts.get(tier, 0), (counts.get(tier, 0) * back + 4) // 8)
                counts[tier] = counts.get(tier, 0) - moved
                counts[0] = counts.get(0, 0) + moved
            session.add_all(
                TierSnapshot(
                    month=month, school_id=school_id, grade=grade, tier=tier, count=count,
                    taken_at=taken,
                )
                for tier, count in sorted(counts.items())
            )  # fmt: skip
        written += 1
    session.flush()
    return written


__all__ = [
    "ClosedMonth", "history", "local_month", "month_key", "months_between", "seed_past_months",
    "shift_month", "take_snapshot", "tally_coverage", "tally_due",
]  # fmt: skip
