"""The campaign results page of the district from a periodic tally (issue 16 item 6).

Suppressing the whole district's results by class (linked with its grades and schools, so the
pages by school, grade and class show one pattern) takes seconds on 7,200 classes. The job
``reports.results_tally`` (every ``TALLY_MINUTES``, and so once within that after a campaign
closes) publishes that table for a viewer who is not a case worker and keeps only the
published text (``ResultsTally``): a hidden count is stored as "<10" or "*", never as its
number. The page reads it when it is fresh (``TALLY_FRESH``, or taken after the campaign
closed) and counts live otherwise.

One school's page (its leader, or a counsellor choosing it) shows that school's lines of the
same district pattern when the tally is read, so that the two pages agree cell by cell and
neither can be subtracted from the other; the school's psychology teacher (a case worker)
sees the counts as they are, live.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..core.authz import Principal
from ..db import utcnow
from ..screening import queries
from ..screening.clock import school_tz
from ..screening.models import Campaign, CampaignSchool
from .library.coverage import TALLY_FRESH, TALLY_MINUTES
from .models import ResultsTally
from .publish import Line, PublishedResults, publish_rows, sees_raw_counts
from .suppression import ZeroPolicy

LEVELS = ("school", "grade", "class")


def _dump(line: Line) -> dict[str, Any]:
    out = asdict(line)
    out["school_id"] = str(line.school_id) if line.school_id else None
    return out


def _load(data: dict[str, Any]) -> Line:
    school_id = data.get("school_id")
    return Line(
        school=data["school"], grade=data["grade"], class_label=data["class_label"],
        bands={code: [(band, text) for band, text in pairs]
               for code, pairs in data["bands"].items()},
        tiers=list(data["tiers"]), screened=data["screened"], critical=data["critical"],
        school_id=uuid.UUID(school_id) if school_id else None,
    )  # fmt: skip


def _texts(line: dict[str, Any]) -> list[str]:
    bands = [text for pairs in line["bands"].values() for _band, text in pairs]
    return [*bands, *line["tiers"], line["screened"], line["critical"]]


def tally_results(
    session: Session, campaign: Campaign, now: dt.datetime, threshold: int, zeros: ZeroPolicy
) -> int:
    """Replace the campaign's published results (``ResultsTally``) with the district's table
    suppressed now; the rows written (one per school with answers, one for the total)."""
    school_ids = sorted(
        session.scalars(
            select(CampaignSchool.school_id).where(CampaignSchool.campaign_id == campaign.id)
        ),
        key=str,
    )
    rows = queries.results(session, campaign, school_ids, by="class") if school_ids else []
    # The band codes in the instruments' order (labels differ by language, codes do not).
    order = {
        code: list(bands) for code, bands in queries.band_labels(campaign.instruments, "en").items()
    }
    per_school: dict[uuid.UUID, dict[str, list[dict[str, Any]]]] = {}
    total: dict[str, Any] = {}
    for level in LEVELS:
        published = publish_rows(rows, level, campaign.instruments, order, threshold, zeros)
        for line in published.lines:
            if line.school_id is not None:  # every line has one: it is a school's row
                per_school.setdefault(line.school_id, {k: [] for k in LEVELS})[level].append(
                    _dump(line)
                )
        total = _dump(published.total)

    def hidden(lines: list[dict[str, Any]]) -> bool:
        return any(text and not text.isdigit() for line in lines for text in _texts(line))

    session.execute(delete(ResultsTally).where(ResultsTally.campaign_id == campaign.id))
    session.add(
        ResultsTally(
            campaign_id=campaign.id, school_id=None, position=-1, threshold=threshold,
            hidden=hidden([total, *(ln for c in per_school.values() for ln in c["class"])]),
            cells={"total": total}, taken_at=now,
        )
    )  # fmt: skip
    session.add_all(
        ResultsTally(
            campaign_id=campaign.id, school_id=school_id, position=position,
            threshold=threshold, hidden=hidden([ln for k in LEVELS for ln in cells[k]]),
            cells=cells, taken_at=now,
        )
        for position, (school_id, cells) in enumerate(per_school.items())
    )  # fmt: skip
    session.flush()
    return len(per_school) + 1


def tallied_results(
    session: Session,
    principal: Principal,
    campaign: Campaign,
    school_ids: list[uuid.UUID],
    by: str,
    *,
    now: dt.datetime | None = None,
) -> PublishedResults | None:
    """The results page from the job's tally, or None to count live: when the viewer is the
    case worker of every school shown, when the tally is missing or stale (older than
    ``TALLY_FRESH`` while the campaign was open), or when the viewer sees several schools but
    not all of the campaign's (their total is not a line of the district's table)."""
    if by not in LEVELS or sees_raw_counts(principal, school_ids):
        return None
    found = list(
        session.scalars(
            select(ResultsTally)
            .where(ResultsTally.campaign_id == campaign.id)
            .order_by(ResultsTally.position)
        )
    )
    district = next((r for r in found if r.school_id is None), None)
    if district is None:
        return None
    tz = school_tz()
    taken = district.taken_at
    closed = campaign.closes_on < taken.astimezone(tz).date()
    if not closed and taken < (now or utcnow()) - TALLY_FRESH:
        return None
    schools = [r for r in found if r.school_id is not None]
    wanted = set(school_ids)
    counted_at = taken.astimezone(tz).strftime("%H:%M")
    if {r.school_id for r in schools} <= wanted:  # the district (every school with answers)
        return PublishedResults(
            [_load(line) for r in schools for line in r.cells[by]],
            _load(district.cells["total"]),
            district.threshold,
            district.hidden,
            counted_at,
            TALLY_MINUTES,
        )
    if len(wanted) == 1:
        own = next((r for r in schools if r.school_id in wanted), None)
        if own is None:
            return None  # no answers at this school: nothing to hide, counted live
        blank: dict[str, Any] = {"school": "", "grade": None, "class_label": ""}
        total = _load({**own.cells["school"][0], **blank, "school_id": None})
        return PublishedResults(
            [_load(line) for line in own.cells[by]], total, own.threshold, own.hidden,
            counted_at, TALLY_MINUTES,
        )  # fmt: skip
    return None


__all__ = ["TALLY_MINUTES", "tallied_results", "tally_results"]
