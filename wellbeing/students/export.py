"""Copy of the growth record for a guardian (PIPL access request, issue 14 item 10).

A psychology teacher or a district counsellor (``RECORD_EXPORT`` on the student) makes one
self-contained HTML file (zh_CN, print stylesheet inline, no script, no external asset) for the
guardian who asked: the student's identity as far as the guardian needs it (name, school,
grade and class, birth date; no student number, no national id), the guardians on file, and
the timeline of the record (tier history, screenings with scores, concerns, alerts, crises and
their steps, guardian contacts and consent entries, follow-ups with outcomes, counselling notes,
and the plan once the plans module contributes its timeline kinds), each kind in its section.

The items come from the modules' ``timeline.py`` (this module may import none of them: they
come after ``students`` in ``MODULES``): a module's ``export_items(session, principal, student,
include_restricted)`` when it declares one (the notes module: the content of each note and its
addenda), else its ordinary ``items(...)`` as the exporting person sees them. Summary items
(outlines) and drafts are left out: the copy holds what the school actually recorded.

Restricted counselling notes are left out, unless the person exporting may read restricted
notes (district counsellors, ``NOTES_READ_RESTRICTED``) and ticks "include restricted notes"
with a written reason; the reason is kept encrypted in ``record_export`` and the audit entry
(``GUARDIAN_COPY``, ``case:guardian_copy:export``: the supervisor's export queue) says that
restricted notes were included and points to that row. The audit entry names fields, never
values. The server produces HTML only (no PDF engine is installed for production; the
browser's "print to PDF" of the file makes the PDF, its print stylesheet is for that).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from .. import modules
from ..auth.names import user_names
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission, Principal, can, ensure
from ..core.errors import DomainError, NotFound
from ..db import utcnow
from ..orgs.models import School, SchoolClass
from .models import RecordExport, Student
from .timeline import FULL, PER_KIND_LIMIT, TimelineItem, collect, kinds

# Who asked for the copy (a code; the label is what people read).
REQUESTER_LABELS: dict[str, Any] = {
    "mother": _l("Mother"),
    "father": _l("Father"),
    "legal_guardian": _l("Legal guardian"),
    "other_guardian": _l("Other guardian"),
    "student": _l("The student"),
}
REASON_MIN = 10
REASON_MAX = 1000
# What the copy shows of the student (named in the audit entry, never their values).
IDENTITY_FIELDS = ("name", "birth_date", "school", "grade", "class", "guardians")

ExportContributor = Callable[[Session, Principal, Student, bool], list[TimelineItem]]


class ExportError(DomainError):
    code = "export_refused"


@dataclass(frozen=True)
class ExportRequest:
    requester: str
    include_restricted: bool = False
    reason: str = ""


@dataclass
class BundleSection:
    kind: str
    label: str
    items: list[TimelineItem]
    capped: bool = False


@dataclass
class Bundle:
    """Everything the copy shows (already cut to what the exporting person may see)."""

    student: Student
    school_name: str
    class_label: str | None
    guardians: list[dict[str, Any]]
    sections: list[BundleSection]
    requester_label: str
    produced_by: str
    produced_at: dt.datetime
    include_restricted: bool
    reason: str | None
    export_id: uuid.UUID | None = None
    fields: list[str] = field(default_factory=list)


def may_include_restricted(principal: Principal, student: Student) -> bool:
    """Only who may read every restricted note of the student (district counsellors) may put
    them in a copy; the author of one restricted note may not (the copy is not theirs alone)."""
    return can(principal, Permission.NOTES_READ_RESTRICTED, student)


def student_for_export(session: Session, principal: Principal, student_id: uuid.UUID) -> Student:
    """The student whose record ``principal`` may copy (``NotFound``/``Forbidden`` otherwise);
    opening the form is audited as a view of the student's name."""
    student = session.get(Student, student_id)
    if student is None:
        raise NotFound(_l("This student does not exist."))
    ensure(principal, Permission.RECORD_EXPORT, student)
    ensure(principal, Permission.RECORD_READ, student)
    audit.record(
        session, AuditAction.STUDENT_VIEW, object_type="student", object_id=student.id,
        student_id=student.id, school_id=student.school_id, fields=["name"],
        detail={"page": "guardian_copy_form"},
    )  # fmt: skip
    return student


def check_request(principal: Principal, student: Student, request: ExportRequest) -> str | None:
    """The request's rules (the form checks only its shape); returns the cleaned reason."""
    if request.requester not in REQUESTER_LABELS:
        raise ExportError(_l("Choose who asked for the copy."))
    if not request.include_restricted:
        return None
    if not may_include_restricted(principal, student):
        raise Forbidden(
            Permission.NOTES_READ_RESTRICTED, student, rule="restricted_notes_in_copy",
            message=_l("Only a district counsellor may include restricted notes in a copy."),
        )  # fmt: skip
    reason = " ".join((request.reason or "").split())
    if len(reason) < REASON_MIN:
        raise ExportError(
            _l("Write why restricted notes are included, in at least %(n)s characters."),
            n=REASON_MIN,
        )  # fmt: skip
    if len(reason) > REASON_MAX:
        raise ExportError(_l("The reason is longer than %(n)s characters."), n=REASON_MAX)
    return reason


def export_contributors() -> list[tuple[frozenset[str], ExportContributor]]:
    """The modules whose ``timeline.py`` declares ``export_items``: ``(its kinds, it)``."""
    return [
        (frozenset(getattr(part, "KINDS", {})), part.export_items)
        for part in modules.parts("timeline")
        if hasattr(part, "export_items")
    ]


def gather(
    session: Session, principal: Principal, student: Student, include_restricted: bool
) -> list[BundleSection]:
    """The copy's sections: each kind with its full items, oldest first (a record read as a
    story). The timeline as the person exporting sees it (:func:`.timeline.collect`, with every
    rule it applies), each kind of a module that declares ``export_items`` taken from that."""
    special = export_contributors()
    replaced = frozenset().union(*(declared for declared, _ in special))
    found = [i for i in collect(session, principal, student).items if i.kind not in replaced]
    if can(principal, Permission.RECORD_READ, student):
        for _declared, contribute in special:
            found.extend(contribute(session, principal, student, include_restricted))
    by_kind: dict[str, list[TimelineItem]] = {}
    for item in found:
        if item.visibility == FULL:
            by_kind.setdefault(item.kind, []).append(item)
    sections = []
    for kind, label in kinds().items():
        items = sorted(by_kind.get(kind, []), key=lambda item: item.at)
        if items:
            sections.append(
                BundleSection(kind, str(label), items, capped=len(items) >= PER_KIND_LIMIT)
            )
    return sections


def make_copy(
    session: Session, principal: Principal, student_id: uuid.UUID, request: ExportRequest
) -> Bundle:
    """The copy for the guardian, recorded (``record_export``) and audited as an export."""
    student = session.get(Student, student_id)
    if student is None:
        raise NotFound(_l("This student does not exist."))
    ensure(principal, Permission.RECORD_EXPORT, student)
    ensure(principal, Permission.RECORD_READ, student)
    reason = check_request(principal, student, request)
    include = reason is not None
    sections = gather(session, principal, student, include)
    klass = session.get(SchoolClass, student.class_id) if student.class_id else None
    school = session.get(School, student.school_id)
    row = RecordExport(
        student_id=student.id, school_id=student.school_id, actor_id=principal.user_id,
        requester=request.requester, include_restricted=include,
    )  # fmt: skip
    if reason is not None:
        row.reason = reason
    session.add(row)
    session.flush()
    fields = sorted(
        {*IDENTITY_FIELDS}
        | {f"timeline.{s.kind}" for s in sections}
        | {name for s in sections for item in s.items for name in item.fields}
    )  # fmt: skip
    detail: dict[str, Any] = {
        "format": "html", "requester": request.requester, "restricted_notes": include,
        "kinds": [s.kind for s in sections], "items": sum(len(s.items) for s in sections),
    }  # fmt: skip
    audit.record(
        session, AuditAction.GUARDIAN_COPY, object_type="record_export", object_id=row.id,
        student_id=student.id, school_id=student.school_id,
        fields=[*fields, *(["reason"] if include else [])], detail=detail,
        purpose="guardian_access_request",
    )  # fmt: skip
    return Bundle(
        student=student,
        school_name=school.name if school else "",
        class_label=klass.label if klass else None,
        guardians=[g for g in (student.guardians or []) if isinstance(g, dict)],
        sections=sections,
        requester_label=str(REQUESTER_LABELS[request.requester]),
        produced_by=user_names(session, {principal.user_id}).get(principal.user_id, ""),
        produced_at=utcnow(),
        include_restricted=include,
        reason=reason,
        export_id=row.id,
        fields=fields,
    )
