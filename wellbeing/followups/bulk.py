"""Resetting many students' cadence at once: the bulk form of the ``TIER_CHANGED``
subscription (screening imports).

Same result as :func:`~.services.on_tier_changed` per student: the student's open cadence
follow-ups are cancelled and the next one is scheduled by the cadence of the student's tier
(district policy), owned by the school's default owner, for active students. The policy and
the owner are looked up once per district and school; rows are read with ``IN`` lookups in
chunks and written with one UPDATE per chunk and one executemany INSERT. Audit: one
``followup_batch`` entry per school for the cancellations and one for the new follow-ups,
instead of one per follow-up. A student changed twice in one batch gets one follow-up (for the
tier the student has now), not one made and cancelled again.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.rawsql import chunks, insert_rows
from ..db import table_of, utcnow
from ..orgs.models import School
from ..risk.events import TierChanged
from ..risk.policy import current_policy
from ..students.models import Student
from .models import ACTIVE_STATES, CANCELLED, OPEN, FollowUp
from .owners import default_owner_id

log = logging.getLogger("wellbeing.followups")


def on_tier_changed_many(session: Session, changes: Sequence[TierChanged]) -> None:
    reset_cadence_many(session, [d.student_id for d in changes], "tier_changed")


def reset_cadence_many(
    session: Session,
    student_ids: Iterable[uuid.UUID],
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> tuple[int, int]:
    """Cancel the students' open cadence follow-ups and schedule the next ones; returns
    (cancelled, scheduled)."""
    session.flush()
    now = now or utcnow()
    ids = sorted(set(student_ids))
    students: dict[uuid.UUID, tuple[uuid.UUID, str, int]] = {}  # id -> (school, status, tier)
    for part in chunks(ids):
        rows = session.execute(
            select(Student.id, Student.school_id, Student.status, Student.tier)
            .where(Student.id.in_(part))
        )  # fmt: skip
        students.update((sid, (school, status, tier)) for sid, school, status, tier in rows)
    cancelled = _cancel(session, students, reason, now)
    scheduled = _schedule(session, students, now)
    return cancelled, scheduled


def _cancel(
    session: Session,
    students: dict[uuid.UUID, tuple[uuid.UUID, str, int]],
    reason: str,
    now: dt.datetime,
) -> int:
    found: list[tuple[uuid.UUID, uuid.UUID]] = []
    for part in chunks(sorted(students)):
        found.extend(session.execute(
            select(FollowUp.id, FollowUp.student_id).where(
                FollowUp.student_id.in_(part), FollowUp.state.in_(ACTIVE_STATES),
                FollowUp.source == "cadence",
            )
        ).tuples())  # fmt: skip
    if not found:
        return 0
    ids = [followup_id for followup_id, _ in found]
    for part in chunks(ids):
        session.execute(
            update(table_of(FollowUp))
            .where(table_of(FollowUp).c.id.in_(part))
            .values(state=CANCELLED, cancelled_at=now)
        )
    done = set(ids)
    for obj in list(session.identity_map.values()):  # loaded copies are stale now
        if isinstance(obj, FollowUp) and obj.id in done:
            session.expire(obj, ["state", "cancelled_at"])
    per_school: dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID]]] = {}
    for followup_id, student_id in found:
        per_school.setdefault(students[student_id][0], []).append((followup_id, student_id))
    for school_id, group in per_school.items():
        if len(group) == 1:  # what cancelling one follow-up records
            audit.record(
                session, AuditAction.FOLLOWUP_CANCEL, object_type="followup",
                object_id=group[0][0], student_id=group[0][1], school_id=school_id,
                detail={"reason": reason},
            )  # fmt: skip
            continue
        audit.record(
            session, AuditAction.FOLLOWUP_CANCEL, object_type="followup_batch",
            school_id=school_id, detail={"reason": reason, "cancelled": len(group)},
        )  # fmt: skip
    return len(found)


def _schedule(
    session: Session, students: dict[uuid.UUID, tuple[uuid.UUID, str, int]], now: dt.datetime
) -> int:
    schools = {school for school, status, _ in students.values() if status == "active"}
    districts = dict(
        session.execute(select(School.id, School.district_id).where(School.id.in_(schools)))
        .tuples().all()
    )  # fmt: skip
    owners: dict[uuid.UUID, uuid.UUID | None] = {}
    rows: list[dict[str, Any]] = []
    per_school: dict[uuid.UUID, list[dict[str, Any]]] = {}
    skipped: dict[uuid.UUID, int] = {}
    cadence: dict[tuple[uuid.UUID | None, int], int | None] = {}  # (district, tier) -> days
    for student_id, (school_id, status, tier) in students.items():
        if status != "active":
            continue
        key = (districts.get(school_id), tier)
        if key not in cadence:
            cadence[key] = current_policy(session, key[0]).followup_days.get(tier)
        days = cadence[key]
        if not days:
            continue
        if school_id not in owners:
            owners[school_id] = default_owner_id(session, school_id)
        owner = owners[school_id]
        if owner is None:
            skipped[school_id] = skipped.get(school_id, 0) + 1
            continue
        rows.append({  # the other columns stay NULL
            "id": uuid.uuid4(), "student_id": student_id, "school_id": school_id,
            "owner_id": owner, "due_at": now + dt.timedelta(days=days), "source": "cadence",
            "state": OPEN, "created_at": now,
        })  # fmt: skip
        per_school.setdefault(school_id, []).append(rows[-1])
    for school_id, count in skipped.items():
        log.warning(
            "school %s has no psych teacher or leader: no cadence follow-up for %d students",
            school_id, count,
        )  # fmt: skip
    if rows:
        insert_rows(session, table_of(FollowUp), rows)
    for school_id, made in per_school.items():
        if len(made) == 1:  # what scheduling one follow-up records
            audit.record(
                session, AuditAction.FOLLOWUP_CREATE, object_type="followup",
                object_id=made[0]["id"], student_id=made[0]["student_id"], school_id=school_id,
                fields=["due_at", "owner_id"],
                detail={"source": "cadence", "owner": owners[school_id], "due": made[0]["due_at"]},
            )  # fmt: skip
            continue
        audit.record(
            session, AuditAction.FOLLOWUP_CREATE, object_type="followup_batch",
            school_id=school_id, fields=["due_at", "owner_id"],
            detail={
                "source": "cadence", "owner": owners[school_id], "created": len(made),
                "days": sorted({(row["due_at"] - now).days for row in made}),
            },
        )  # fmt: skip
    return len(rows)
