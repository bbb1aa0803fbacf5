"""Screening services: campaigns, single responses (form, kiosk, API) and column mappings.
Each takes the acting principal, checks the policy and writes its audit entry in the caller's
transaction. The review of provisional decisions is in :mod:`.review`, a student's history and
its FHIR export in :mod:`.records`."""

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
from ..core.errors import NotFound
from ..orgs.models import School
from ..students.models import Student
from .engine.instruments import builtin_instruments
from .errors import ScreeningError
from .intake.pipeline import Entry, Intake, Report, RowError, all_or_nothing, run_batches
from .links import screening_links as screening_links  # registers the alert links on import
from .models import CAMPAIGN_STATES, Campaign, CampaignSchool, CampaignState, ColumnMapping

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
        state=CampaignState.OPEN,
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
    CAMPAIGN_STATES.move(campaign, CampaignState.CLOSED)
    audit.record(session, AuditAction.SCREENING_CAMPAIGN, object_type="campaign", object_id=campaign.id,
                 school_id=campaign.school_id, detail={"op": "close"})  # fmt: skip


def runs_district_campaigns(actor: Principal) -> bool:
    """District staff (counsellors) create campaigns for several or all schools and keep the
    district's shared column mappings; everybody else acts for their own school."""
    return Role.COUNSELLOR in actor.roles


def manageable_schools(
    session: Session, actor: Principal, *, active_only: bool = True
) -> list[School]:
    """The schools where ``actor`` may manage screening, by code."""
    stmt = select(School).order_by(School.code)
    if active_only:
        stmt = stmt.where(School.active.is_(True))
    return [s for s in session.scalars(stmt) if can(actor, Permission.SCREENING_MANAGE, s)]


def campaign_for(
    session: Session, actor: Principal, campaign_id: uuid.UUID, permission: Permission
) -> tuple[Campaign, list[School]]:
    """The campaign and those of its schools where ``actor`` holds ``permission``; NotFound or
    Forbidden when there is none."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(_l("This campaign does not exist."))
    schools = [s for s in campaign_schools(session, campaign) if can(actor, permission, s)]
    if not schools:
        raise Forbidden(permission, campaign)
    return campaign, schools


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
    wanted = {Student.student_number.blind_index(school_id, n): n for n in numbers}
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
    if not ok or not isinstance(number, str) or not isinstance(code, str):
        return None  # each problem was reported above
    return Entry(
        row=n, answers={code: clean}, student_number=number.strip(), school_code=school, key=key
    )


# --------------------------------------------------------------------------- mappings


def mappings_for_campaign(
    session: Session, actor: Principal, campaign: Campaign
) -> list[ColumnMapping]:
    """The saved mappings an import into ``campaign`` may use: the district's shared ones and
    those of the schools ``actor`` manages."""
    rows = session.scalars(
        select(ColumnMapping)
        .where(ColumnMapping.district_id == campaign.district_id)
        .order_by(ColumnMapping.name)
    )
    return [m for m in rows if m.school_id is None or can(actor, Permission.SCREENING_MANAGE, m)]


def visible_mappings(session: Session, actor: Principal) -> list[ColumnMapping]:
    """The mappings listed on the mappings page: the district's shared ones to district staff,
    and those of the schools ``actor`` manages."""
    schools = {s.id for s in manageable_schools(session, actor, active_only=False)}
    district = runs_district_campaigns(actor)
    return [
        m for m in session.scalars(select(ColumnMapping).order_by(ColumnMapping.name))
        if (m.school_id is None and district) or m.school_id in schools
    ]  # fmt: skip


def save_own_mapping(
    session: Session, actor: Principal, *, name: str, mapping: dict[str, str]
) -> ColumnMapping:
    """Save a mapping where ``actor`` keeps them: the district's shared mappings for district
    staff, their (first) school's own for everybody else."""
    schools = manageable_schools(session, actor, active_only=False)
    school = None if runs_district_campaigns(actor) or not schools else schools[0]
    district_id = school.district_id if school else (schools[0].district_id if schools else None)
    if district_id is None:
        raise Forbidden(Permission.SCREENING_MANAGE)
    return save_mapping(session, actor, district_id=district_id, school=school, name=name,
                        mapping=mapping)  # fmt: skip


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
