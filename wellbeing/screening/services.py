"""Screening services: campaigns, single responses (form, kiosk, API), column mappings, the
review of provisional screening decisions. Each checks the policy and writes its audit entry
in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission, Principal, Role, can, ensure
from ..orgs.models import School
from ..risk.services import apply_tier
from ..students.models import Student
from .errors import ScreeningError
from .instruments import builtin_instruments
from .intake import Entry, Intake, Report, RowError, all_or_nothing, run_batches
from .models import Campaign, CampaignSchool, ColumnMapping, Response
from .queries import fhir_bundle as build

MAX_API_BATCH = 1000


# --------------------------------------------------------------------------- campaigns


def create_campaign(
    session: Session,
    actor: Principal | None,
    *,
    name: str,
    instruments: Sequence[str],
    schools: Sequence[School],
    grades: Sequence[int],
    opens_on: dt.date,
    closes_on: dt.date,
    consent_text: str = "",
    district_wide: bool = False,
    created_by: uuid.UUID | None = None,
) -> Campaign:
    """A psych teacher creates one for their school, a counsellor for several/all schools."""
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise ScreeningError(_l("The name is required (at most 200 characters)."))
    installed = builtin_instruments()
    codes = list(dict.fromkeys(instruments))
    unknown = [c for c in codes if c not in installed]
    if unknown:
        raise ScreeningError(_l("Unknown instruments: %(codes)s"), codes=", ".join(unknown))
    if not codes:
        raise ScreeningError(_l("Choose at least one instrument."))
    grade_list = sorted(set(grades))
    if not grade_list or any(not 1 <= g <= 12 for g in grade_list):
        raise ScreeningError(_l("Grades must be between 1 and 12."))
    for code in codes:
        if not set(grade_list) & set(installed[code].grades):
            raise ScreeningError(
                _l("%(instrument)s is not meant for these grades."), instrument=code
            )
    if closes_on < opens_on:
        raise ScreeningError(_l("The campaign closes before it opens."))
    if not schools:
        raise ScreeningError(_l("Choose at least one school."))
    districts = {s.district_id for s in schools}
    if len(districts) != 1:
        raise ScreeningError(_l("All schools must be in one district."))
    for school in schools:
        if actor is not None:
            ensure(actor, Permission.SCREENING_MANAGE, school)
    if (
        actor is not None
        and (district_wide or len(schools) > 1)
        and Role.COUNSELLOR not in actor.roles
    ):
        raise Forbidden(Permission.SCREENING_MANAGE)
    campaign = Campaign(
        district_id=districts.pop(), school_id=None if district_wide or len(schools) > 1 else schools[0].id,
        name=name, instruments=codes, grades=grade_list, opens_on=opens_on, closes_on=closes_on,
        consent_text=consent_text.strip(), created_by=created_by or (actor.user_id if actor else None),
        status="open",
    )  # fmt: skip
    session.add(campaign)
    session.flush()
    session.add_all(CampaignSchool(campaign_id=campaign.id, school_id=s.id) for s in schools)
    audit.record(
        session, AuditAction.SCREENING_CAMPAIGN, object_type="campaign", object_id=campaign.id,
        school_id=campaign.school_id, detail={"op": "create", "instruments": codes, "schools": len(schools)},
    )  # fmt: skip
    return campaign


def close_campaign(session: Session, actor: Principal | None, campaign: Campaign) -> None:
    ensure_campaign(session, actor, campaign, Permission.SCREENING_MANAGE)
    if campaign.status == "closed":
        raise ScreeningError(_l("The campaign is already closed."))
    campaign.status = "closed"
    audit.record(session, AuditAction.SCREENING_CAMPAIGN, object_type="campaign", object_id=campaign.id,
                 school_id=campaign.school_id, detail={"op": "close"})  # fmt: skip


def campaign_schools(session: Session, campaign: Campaign) -> list[School]:
    return list(
        session.scalars(
            select(School).join(CampaignSchool, CampaignSchool.school_id == School.id)
            .where(CampaignSchool.campaign_id == campaign.id).order_by(School.code)
        )
    )  # fmt: skip


def visible_school_ids(
    session: Session, actor: Principal | None, campaign: Campaign, permission: Permission
) -> list[uuid.UUID]:
    """The campaign's schools on which ``actor`` holds ``permission``."""
    return [s.id for s in campaign_schools(session, campaign) if can(actor, permission, s)]


def ensure_campaign(
    session: Session, actor: Principal | None, campaign: Campaign, permission: Permission
) -> list[uuid.UUID]:
    """Refuse unless ``actor`` holds ``permission`` on at least one of the campaign's schools."""
    if actor is None:
        return [s.id for s in campaign_schools(session, campaign)]
    ids = visible_school_ids(session, actor, campaign, permission)
    if not ids:
        raise Forbidden(permission, campaign)
    return ids


def campaigns_for(session: Session, actor: Principal, permission: Permission) -> list[Campaign]:
    """Campaigns touching a school where ``actor`` holds ``permission``, newest first."""
    campaigns = list(
        session.scalars(
            select(Campaign)
            .order_by(Campaign.opens_on.desc(), Campaign.created_at.desc())
            .limit(200)
        )
    )
    if Role.COUNSELLOR in actor.roles and can(actor, permission):
        return campaigns
    mine = actor.school_ids()
    if not mine:
        return []
    linked = set(
        session.scalars(
            select(CampaignSchool.campaign_id).where(CampaignSchool.school_id.in_(mine))
        )
    )
    return [
        c for c in campaigns if c.id in linked and visible_school_ids(session, actor, c, permission)
    ]


# --------------------------------------------------------------------------- responses


def record_response(
    session: Session,
    actor: Principal | None,
    campaign: Campaign,
    student: Student,
    instrument: str,
    answers: dict[str, int | None],
    *,
    source: str = "form",
    entered_by: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> Report:
    """One student's answers to one instrument (form or kiosk)."""
    return record_answers(session, actor, campaign, student, {instrument: answers}, source=source,
                          entered_by=entered_by, now=now)  # fmt: skip


def record_answers(
    session: Session,
    actor: Principal | None,
    campaign: Campaign,
    student: Student,
    answers: dict[str, dict[str, int | None]],
    *,
    source: str = "form",
    entered_by: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> Report:
    """One student's answers to some of the campaign's instruments, all or nothing."""
    if not answers or any(code not in campaign.instruments for code in answers):
        raise ScreeningError(_l("Answer at least one questionnaire of this campaign."))
    intake = Intake(session, campaign, source=source, actor=actor, entered_by=entered_by, now=now)
    report = Report()
    entry = Entry(row=1, answers=answers, student_id=student.id, column="student")
    with all_or_nothing(session, report):
        intake.process([entry], report, mode="write")
    if not report.ok:
        raise ScreeningError(report.errors[0].message)
    if report.created:
        audit.record(
            session, AuditAction.SCREENING_RESPONSE, object_type="screening_response",
            object_id=report.results[1][0], student_id=student.id, school_id=student.school_id,
            fields=["screening.answers", "screening.scores"],
            detail={"source": source, "instruments": sorted(answers), "created": report.created},
        )  # fmt: skip
    return report


def find_students(
    session: Session, school_id: uuid.UUID, numbers: Sequence[str]
) -> tuple[list[Student], list[str]]:
    """Students of a school by student number (blind index); and the numbers not found."""
    wanted = {Student.student_number.blind_index(school_id, n): n for n in numbers}  # type: ignore[attr-defined]
    found = list(
        session.scalars(
            select(Student).where(
                Student.school_id == school_id, Student.student_number_bidx.in_(list(wanted))
            )
        )
    )
    seen = {s.student_number_bidx for s in found}
    order = {bidx: i for i, bidx in enumerate(wanted)}
    found.sort(key=lambda s: order[s.student_number_bidx])
    return found, [n for bidx, n in wanted.items() if bidx not in seen]


def intake_api_batch(
    session: Session,
    actor: Principal,
    campaign: Campaign,
    items: list[dict[str, Any]],
    now: dt.datetime | None = None,
) -> Report:
    """A JSON batch ``[{key, student_number, school_code?, instrument, answers}]``: validated
    as a whole (errors → nothing written), idempotent by ``key``."""
    if not items or len(items) > MAX_API_BATCH:
        raise ScreeningError(_l("Send between 1 and %(max)s responses."), max=MAX_API_BATCH)
    intake = Intake(session, campaign, source="api", actor=actor, entered_by=actor.user_id, now=now)
    report = Report()
    entries = []
    for n, raw in enumerate(items):
        entry = _api_entry(n, raw, intake, report)
        if entry is not None:
            entries.append(entry)
    report.rows_total = len(items)
    with all_or_nothing(session, report):
        run_batches(intake, entries, report, mode="write")
    if not report.ok:
        return report
    final = report
    audit.record(
        session, AuditAction.SCREENING_IMPORT, object_type="campaign", object_id=campaign.id,
        school_id=campaign.school_id, fields=["screening.answers", "screening.scores"],
        detail={"source": "api", "rows": final.rows_total, "created": final.created,
                "unchanged": final.unchanged, "critical": final.critical},
    )  # fmt: skip
    return final


def _api_entry(n: int, raw: Any, intake: Intake, report: Report) -> Entry | None:
    if not isinstance(raw, dict):
        report.add_error(RowError(n, "", "must be an object"))
        return None
    ok = True
    key, number, school, code, answers = (
        raw.get(k) for k in ("key", "student_number", "school_code", "instrument", "answers")
    )
    if not isinstance(key, str) or not 1 <= len(key) <= 100:
        report.add_error(RowError(n, "key", "required: a string of 1 to 100 characters"))
        ok = False
    if not isinstance(number, str) or not number.strip():
        report.add_error(RowError(n, "student_number", "required"))
        ok = False
    if school is not None and not isinstance(school, str):
        report.add_error(RowError(n, "school_code", "must be a string"))
        ok = False
    instrument = intake.instruments.get(code) if isinstance(code, str) else None
    if instrument is None:
        report.add_error(RowError(n, "instrument", "not an instrument of this campaign"))
        return None
    if not isinstance(answers, dict):
        report.add_error(RowError(n, "answers", "must be an object of item codes to values"))
        return None
    clean: dict[str, int | None] = {}
    for item_code, value in answers.items():
        item = instrument.items_by_code.get(item_code)
        if item is None:
            report.add_error(RowError(n, f"answers.{item_code}"[:80], "unknown item"))
            ok = False
        elif value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value not in item.values
        ):
            allowed = ", ".join(str(v) for v in sorted(item.values))
            report.add_error(
                RowError(n, f"answers.{item_code}", f"not an allowed answer ({allowed})")
            )
            ok = False
        else:
            clean[item_code] = value
    if ok and not any(v is not None for v in clean.values()):
        report.add_error(RowError(n, "answers", "no answers"))
        ok = False
    if not ok:
        return None
    return Entry(
        row=n, answers={code: clean}, student_number=number.strip(), school_code=school, key=key
    )


# --------------------------------------------------------------------------- mappings


def save_mapping(
    session: Session, actor: Principal | None, *, district_id: uuid.UUID, school: School | None, name: str,
    mapping: dict[str, str], created_by: uuid.UUID | None = None,
) -> ColumnMapping:  # fmt: skip
    """Create or replace the named mapping of a district (a school's own when ``school``)."""
    if actor is not None:
        ensure(actor, Permission.SCREENING_MANAGE, school)
    name = name.strip()
    if not name or len(name) > 100:
        raise ScreeningError(_l("The mapping needs a name (at most 100 characters)."))
    if not mapping:
        raise ScreeningError(_l("The mapping is empty."))
    row = session.scalar(
        select(ColumnMapping).where(
            ColumnMapping.district_id == district_id, ColumnMapping.name == name
        )
    )
    if row is None:
        row = ColumnMapping(district_id=district_id, name=name)
        session.add(row)
    elif row.school_id is not None and (school is None or row.school_id != school.id):
        raise ScreeningError(_l("This name is used by another school's mapping."))
    row.school_id = school.id if school else None
    row.mapping = dict(mapping)
    row.created_by = created_by or (actor.user_id if actor else None)
    session.flush()
    audit.record(session, AuditAction.SCREENING_CAMPAIGN, object_type="column_mapping", object_id=row.id,
                 school_id=row.school_id, detail={"op": "mapping_save", "columns": len(mapping)})  # fmt: skip
    return row


# --------------------------------------------------------------------------- review


def review_decision(
    session: Session,
    actor: Principal,
    student: Student,
    tier: int,
    reason: str,
    now: dt.datetime | None = None,
) -> Any:
    """Confirm or change a provisional screening decision (a person, with a written reason)."""
    ensure(actor, Permission.TIER_DECIDE, student)
    if not student.tier_provisional:
        raise ScreeningError(_l("This student has no provisional decision to review."))
    if not reason.strip():
        raise ScreeningError(_l("A written reason is required."))
    latest = session.scalar(
        select(Response.id)
        .where(Response.student_id == student.id)
        .order_by(Response.created_at.desc())
        .limit(1)
    )
    decision = apply_tier(session, actor, student, tier, source="screening", reason=reason,
                          provisional=False, source_id=latest, now=now)  # fmt: skip
    audit.record(session, AuditAction.TIER_CONFIRM, object_type="student", object_id=student.id,
                 student_id=student.id, school_id=student.school_id, fields=["tier"],
                 detail={"tier": tier, "via": "screening_review"})  # fmt: skip
    return decision


def fhir_bundle(session: Session, student: Student, *, base_url: str) -> dict[str, Any]:
    return build(session, student, base_url=base_url)
