"""Lists of names from reports, for case workers only (issue 16 items 1 and 5): the students
of a campaign not screened yet, for the school's psychology teacher.

The report page shows the list to them alone (``library.coverage``); downloading it needs a
written reason, kept encrypted in ``report_named_export``, and is audited as
``case:unscreened_list:export`` -- an ``...:export`` action, so it lands in the supervisors'
export review queue (``audit.queries.EXPORT_ACTIONS``) -- listing the students named. The file
is CSV in UTF-8 with a byte-order mark (Excel and WPS read the Chinese), every cell that a
spreadsheet would take for a formula neutralised.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission, Principal, Role, ensure
from ..core.errors import DomainError, NotFound
from ..orgs.models import School
from ..screening.models import Campaign
from .catalog import ReportFilters
from .library import coverage
from .models import NamedExport

REASON_MAX = 500
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class NamedExportError(DomainError):
    code = "reason_required"


@dataclass(frozen=True)
class NamedFile:
    filename: str
    text: str  # with the byte-order mark
    rows: int
    export_id: uuid.UUID


def neutralise(cell: str) -> str:
    """A cell a spreadsheet would read as a formula (= + - @, tab, return) as plain text."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def csv_text(head: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in [head, *rows]:
        writer.writerow([neutralise(str(cell)) for cell in row])
    return "\ufeff" + buffer.getvalue()


def check_reason(reason: str | None) -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise NamedExportError(_l("Write why you need the list of names."))
    if len(text) > REASON_MAX:
        raise NamedExportError(_l("The reason is longer than %(n)s characters."), n=REASON_MAX)
    return text


def unscreened_scope(
    session: Session,
    principal: Principal,
    school_id: uuid.UUID | None,
    campaign_id: uuid.UUID | None,
    *,
    now: dt.datetime,
    tz: dt.tzinfo,
) -> tuple[School, Campaign]:
    """The school (the principal's, as its psychology teacher) and campaign of the list;
    Forbidden for anyone else, NotFound when the school takes part in no such campaign."""
    mine = principal.school_ids(Role.PSYCH_TEACHER)
    if school_id is None and len(mine) == 1:
        school_id = next(iter(mine))
    school = session.get(School, school_id) if school_id is not None else None
    if school is None:
        raise NotFound(_l("Choose a school."))
    ensure(principal, Permission.STATS_SCHOOL, school)
    if school.id not in mine:
        raise Forbidden(
            Permission.STATS_SCHOOL, school, rule="names_for_psych_teacher",
            message=_l("Only the school's psychology teacher may see these names."),
        )  # fmt: skip
    today = now.astimezone(tz).date()
    filters = ReportFilters((school.id,), False, None, today, today, campaign_id, tz, now)
    campaign = coverage.campaign_for(session, (school.id,), filters)
    if campaign is None:
        raise NotFound(_l("No screening campaign covers this school."))
    return school, campaign


def export_unscreened(
    session: Session,
    principal: Principal,
    school: School,
    campaign: Campaign,
    reason: str | None,
    *,
    grade: int | None = None,
) -> NamedFile:
    """The list as a CSV file; recorded with its reason and audited (the students named)."""
    text = check_reason(reason)
    students = coverage.unscreened(session, campaign, school.id, grade)
    row = NamedExport(
        user_id=principal.user_id, school_id=school.id, campaign_id=campaign.id,
        report=coverage.KEY, rows=len(students), reason=text,
    )  # fmt: skip
    session.add(row)
    session.flush()
    audit.record(
        session, AuditAction.UNSCREENED_EXPORT, object_type="report_named_export",
        object_id=row.id, school_id=school.id, fields=["name", "class", "reason"],
        detail={
            "campaign_id": campaign.id, "rows": len(students), "grade": grade,
            "students": [str(student.id) for student, _class in students],
        },
        purpose="screening_follow_up",
    )  # fmt: skip
    body = csv_text(
        [_("Name"), _("Class")], [[student.name or "", klass] for student, klass in students]
    )
    day = row.created_at.date().isoformat()
    return NamedFile(f"unscreened-{day}-{str(row.id)[:8]}.csv", body, len(students), row.id)
