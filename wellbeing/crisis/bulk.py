"""Opening many crises at once: the bulk form of the ``TIER_CHANGED`` subscription (screening
imports). Each student who becomes red gets the Crisis :func:`~.services.open_crisis` would
open (none when one is open already, also within the batch); one executemany INSERT, and one
``crisis_batch`` audit entry per school instead of one per crisis."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.rawsql import chunks, insert_rows
from ..db import table_of, utcnow
from ..risk.events import TierChanged
from .links import crisis_alert_ids
from .models import Crisis, CrisisState


def on_tier_changed_many(session: Session, changes: Sequence[TierChanged]) -> None:
    """A crisis for every change that makes a student red (the first one per student)."""
    reds = [d for d in changes if d.to_tier == 3 and (d.from_tier or 0) < 3]
    if reds:
        open_crises(session, reds)


def open_crises(session: Session, decisions: Sequence[TierChanged]) -> list[uuid.UUID]:
    """Open a crisis per decision's student unless one is open; returns the new crises' ids."""
    session.flush()
    students = sorted({d.student_id for d in decisions})
    taken: set[uuid.UUID] = set()
    for part in chunks(students):
        taken.update(session.scalars(
            select(Crisis.student_id).where(Crisis.student_id.in_(part), Crisis.state == CrisisState.OPEN)
        ))  # fmt: skip
    now = utcnow()
    alerts = crisis_alert_ids(session, {d.student_id for d in decisions} - taken)
    rows: list[dict[str, Any]] = []
    per_school: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for d in decisions:
        if d.student_id in taken:
            continue
        taken.add(d.student_id)
        opened_at: dt.datetime = d.decided_at or now
        rows.append({
            "id": uuid.uuid4(), "student_id": d.student_id, "school_id": d.school_id,
            "state": CrisisState.OPEN, "opened_at": opened_at, "decision_id": d.decision_id,
            "created_at": now, "alert_id": alerts.get(d.student_id),
        })  # fmt: skip
        per_school.setdefault(d.school_id, []).append(rows[-1])
    if rows:
        insert_rows(session, table_of(Crisis), rows)
    for school_id, opened in per_school.items():
        if len(opened) == 1:  # what opening one crisis records
            audit.record(
                session, AuditAction.CRISIS_UPDATE, object_type="crisis", object_id=opened[0]["id"],
                student_id=opened[0]["student_id"], school_id=school_id, detail={"step": "open"},
            )  # fmt: skip
            continue
        audit.record(
            session, AuditAction.CRISIS_UPDATE, object_type="crisis_batch", school_id=school_id,
            detail={"step": "open", "crises": len(opened)},
        )  # fmt: skip
    return [row["id"] for row in rows]
