"""Read-only screening queries: progress, results (counts only), the review queue, a
student's history. Aggregates run in SQL on indexed columns; nothing here decrypts except
:func:`student_history`."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, and_, cast, distinct, exists, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from ..db import utcnow
from ..orgs.labels import school_label
from ..orgs.models import School, SchoolClass
from ..risk.models import APPLIED, TierDecision
from ..students.models import Student
from .engine import fhir
from .engine.instruments import builtin_instruments
from .engine.scoring import ScoreResult
from .models import Campaign, Response


@dataclass
class ProgressRow:
    school_id: uuid.UUID
    grade: int
    class_id: uuid.UUID | None
    eligible: int = 0
    screened: int = 0
    voided: int = 0
    school: str = ""
    class_label: str = ""

    @property
    def missing(self) -> int:
        return max(self.eligible - self.screened, 0)


def _labels(session: Session, rows: list[Any]) -> None:
    schools = {
        s.id: s
        for s in session.scalars(select(School).where(School.id.in_({r.school_id for r in rows})))
    }
    class_ids = {r.class_id for r in rows if r.class_id}
    classes = {
        c.id: c.label
        for c in session.scalars(select(SchoolClass).where(SchoolClass.id.in_(class_ids)))
    }
    for r in rows:
        school = schools.get(r.school_id)
        r.school = school_label(school) if school else ""
        r.class_label = classes.get(r.class_id, "") if r.class_id else ""


def progress(
    session: Session, campaign: Campaign, school_ids: list[uuid.UUID]
) -> list[ProgressRow]:
    """Per school, grade and class: eligible (active students of the campaign's grades),
    screened (with at least one response), voided (with a voided response)."""
    rows: dict[tuple[Any, ...], ProgressRow] = {}

    def row(key: tuple[Any, ...]) -> ProgressRow:
        if key not in rows:
            rows[key] = ProgressRow(*key)
        return rows[key]

    eligible = session.execute(
        select(Student.school_id, Student.grade, Student.class_id, func.count())
        .where(Student.school_id.in_(school_ids), Student.grade.in_(campaign.grades), Student.status == "active")
        .group_by(Student.school_id, Student.grade, Student.class_id)
    )  # fmt: skip
    for school_id, grade, class_id, n in eligible:
        row((school_id, grade, class_id)).eligible = n
    base = (Response.school_id, Response.grade, Response.class_id)
    where = (Response.campaign_id == campaign.id, Response.school_id.in_(school_ids))
    for voided_only in (False, True):
        stmt = select(*base, func.count(distinct(Response.student_id))).where(*where)
        if voided_only:
            stmt = stmt.where(Response.voided.is_(True))
        for school_id, grade, class_id, n in session.execute(stmt.group_by(*base)):
            target = row((school_id, grade, class_id))
            if voided_only:
                target.voided = n
            else:
                target.screened = n
    out = sorted(rows.values(), key=lambda r: (str(r.school_id), r.grade, str(r.class_id)))
    _labels(session, out)
    out.sort(key=lambda r: (r.school, r.grade, r.class_label))
    return out


@dataclass
class ResultRow:
    school_id: uuid.UUID
    grade: int | None
    class_id: uuid.UUID | None
    bands: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    tiers: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    critical: int = 0
    school: str = ""
    class_label: str = ""


def results(
    session: Session, campaign: Campaign, school_ids: list[uuid.UUID], by: str = "grade"
) -> list[ResultRow]:
    """Counts per band (per instrument) and per tier (each student's highest screening tier in
    the campaign), grouped by school, school+grade or school+grade+class. No names."""
    keys: list[InstrumentedAttribute[Any]] = [Response.school_id]
    if by in ("grade", "class"):
        keys.append(Response.grade)
    if by == "class":
        keys.append(Response.class_id)
    where = (
        Response.campaign_id == campaign.id,
        Response.school_id.in_(school_ids),
        Response.voided.is_(False),
    )
    rows: dict[tuple[Any, ...], ResultRow] = {}

    def row(key: tuple[Any, ...]) -> ResultRow:
        if key not in rows:
            padded = (*key, None, None)[:3]
            rows[key] = ResultRow(*padded)
        return rows[key]

    bands = select(*keys, Response.instrument, Response.total_band, func.count()).where(*where)
    for *key, instrument, band, n in session.execute(
        bands.group_by(*keys, Response.instrument, Response.total_band)
    ):
        row(tuple(key)).bands[instrument][band or "incomplete"] = n
    per_student = (
        select(
            *keys,
            Response.student_id,
            func.max(Response.tier).label("tier"),
            func.max(cast(Response.critical, Integer)).label("critical"),
        )
        .where(*where)
        .group_by(*keys, Response.student_id)
        .subquery()
    )
    cols = [per_student.c[k.key] for k in keys]
    tiers = select(
        *cols, per_student.c.tier, func.count(), func.sum(per_student.c.critical)
    ).group_by(*cols, per_student.c.tier)
    for *key, tier, n, critical in session.execute(tiers):
        target = row(tuple(key))
        target.tiers[int(tier)] += n
        target.critical += int(critical or 0)
    out = list(rows.values())
    _labels(session, out)
    out.sort(key=lambda r: (r.school, r.grade or 0, r.class_label))
    return out


def band_labels(codes: list[str], locale: str) -> dict[str, dict[str, str]]:
    """Instrument → band code → label, for the results table."""
    instruments = builtin_instruments()
    out: dict[str, dict[str, str]] = {}
    for code in codes:
        inst = instruments.get(code)
        if inst is None or inst.total is None:
            continue
        out[code] = {b.code: b.label.get(locale) for b in inst.scale(inst.total).bands}
    return out


@dataclass
class QueueRow:
    student: Student
    critical: bool
    since: Any


def review_queue(session: Session, school_ids: list[uuid.UUID], limit: int = 200) -> list[QueueRow]:
    """Students with a provisional tier from screening: tier desc, critical first, oldest first."""
    screening_provisional = exists().where(
        and_(TierDecision.student_id == Student.id, TierDecision.source == "screening",
             TierDecision.provisional.is_(True), TierDecision.state == APPLIED)
    )  # fmt: skip
    critical = func.max(cast(Response.critical, Integer)).label("critical")
    since = func.min(Response.created_at).label("since")
    stmt = (
        select(Student, critical, since)
        .join(Response, Response.student_id == Student.id)
        .where(Student.school_id.in_(school_ids), Student.tier_provisional.is_(True), screening_provisional)
        .group_by(Student.id)
        .order_by(Student.tier.desc(), critical.desc(), since.asc())
        .limit(limit)
    )  # fmt: skip
    return [QueueRow(student, bool(c), s) for student, c, s in session.execute(stmt)]


@dataclass
class HistoryPoint:
    response: Response
    campaign: Campaign
    total: int | float | None
    band: str | None


def student_history(session: Session, student_id: uuid.UUID) -> list[HistoryPoint]:
    """The student's responses across campaigns, oldest first, with decrypted totals."""
    stmt = (
        select(Response, Campaign).join(Campaign, Campaign.id == Response.campaign_id)
        .where(Response.student_id == student_id).order_by(Campaign.opens_on, Response.created_at)
    )  # fmt: skip
    points = []
    instruments = builtin_instruments()
    for response, campaign in session.execute(stmt):
        data = response.data or {}
        inst = instruments.get(response.instrument)
        total_code = inst.total if inst else "total"
        scale = data.get("scores", {}).get("scales", {}).get(total_code or "total", {})
        points.append(HistoryPoint(response, campaign, scale.get("value"), scale.get("band")))
    return points


def fhir_bundle(session: Session, student: Student, *, base_url: str) -> dict[str, Any]:
    """Every screening response of the student as one FHIR R4 ``collection`` Bundle:
    a QuestionnaireResponse per response plus LOINC-coded Observations of its scores."""
    instruments = builtin_instruments()
    entries: list[dict[str, Any]] = []
    responses = session.scalars(
        select(Response).where(Response.student_id == student.id).order_by(Response.created_at)
    )
    for response in responses:
        instrument = instruments.get(response.instrument)
        if instrument is None:
            continue
        data = response.data
        result = ScoreResult.from_dict(data["scores"])
        kwargs: dict[str, Any] = {
            "student_ref": f"Patient/{student.id}", "authored": response.created_at,
            "response_id": str(response.id), "base_url": base_url,
        }  # fmt: skip
        resources = [
            fhir.questionnaire_response(instrument, data["answers"], result, **kwargs),
            *fhir.observations(instrument, data["answers"], result, panel=True, **kwargs),
        ]
        entries.extend(
            {"fullUrl": f"{base_url}/{r['resourceType']}/{r['id']}", "resource": r}
            for r in resources
        )
    return {
        "resourceType": "Bundle",
        "id": f"screening-{student.id}",
        "type": "collection",
        "timestamp": utcnow().isoformat(),
        "entry": entries,
    }
