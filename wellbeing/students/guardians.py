"""Guardians' details on the record: corrected by hand, and merged with roster imports.

``Student.guardians`` (encrypted JSON) is a list of ``{"name", "phone", "relation"}``; a
guardian whose details were corrected by hand also carries ``"corrected"``: the names of the
fields a person corrected (never their values elsewhere).

The rule between the two writers:

- The psychology teacher (or a counsellor, ``RECORD_WRITE``) corrects any guardian's name, phone
  or relation, or adds a guardian; audited with the names of the fields that changed only.
- A roster import supplies the first guardian's name and phone. It updates a field unless that
  field was corrected by hand: then the hand value is kept and the import report counts it.
  When the roster later gives the same value as the correction, the mark is dropped (the
  roster caught up, so later imports update the field again). Blank cells change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, ensure
from ..core.errors import DomainError, NotFound
from .enrolment import ensure_not_sealed
from .models import Student
from .roster import FieldError, parse_guardian_name, parse_phone

FIELDS = ("name", "phone", "relation")
ROSTER_FIELDS = ("name", "phone")  # what a roster row supplies (for the first guardian)
CORRECTED = "corrected"
MAX_RELATION = 20


class GuardianError(DomainError):
    """Refused guardian details; the message is safe to show."""

    code = "guardian_refused"


def _clean(name: str | None, phone: str | None, relation: str | None) -> dict[str, str | None]:
    try:
        clean_name = parse_guardian_name(name or "")
    except FieldError:
        raise GuardianError(
            _l("The guardian's name is too long or has invalid characters")
        ) from None
    try:
        clean_phone = parse_phone(phone or "")
    except FieldError:
        raise GuardianError(_l("Not a valid phone number")) from None
    clean_relation = " ".join((relation or "").split()) or None
    if clean_relation and len(clean_relation) > MAX_RELATION:
        raise GuardianError(_l("The relation is longer than %(n)s characters"), n=MAX_RELATION)
    if not clean_name and not clean_phone:
        raise GuardianError(_l("Give the guardian's name or phone number"))
    return {"name": clean_name, "phone": clean_phone, "relation": clean_relation}


def correct_guardian(
    session: Session,
    actor: Principal,
    student: Student,
    index: int,
    *,
    name: str | None,
    phone: str | None,
    relation: str | None,
) -> list[str]:
    """Correct guardian ``index`` (``len(guardians)`` adds one); returns the fields changed.
    The changed fields are marked corrected by hand, so a later roster import keeps them."""
    ensure(actor, Permission.RECORD_WRITE, student)
    ensure_not_sealed(student)
    guardians = [dict(g) for g in (student.guardians or [])]
    if not 0 <= index <= len(guardians):
        raise GuardianError(_l("No such guardian"))
    wanted = _clean(name, phone, relation)
    old = guardians[index] if index < len(guardians) else {}
    changed = [f for f in FIELDS if old.get(f) != wanted[f]]
    if not changed:
        return []
    corrected = sorted(set(old.get(CORRECTED, [])) | set(changed))
    guardians[index : index + 1] = [{**wanted, CORRECTED: corrected}]
    student.guardians = guardians
    session.flush()
    audit.record(
        session, AuditAction.STUDENT_UPDATE, object_type="student", object_id=student.id,
        student_id=student.id, school_id=student.school_id, fields=["guardians"],
        detail={"guardian": index, "changed": changed, "by_hand": True,
                "added": index == len(guardians) - 1 and not old},
    )  # fmt: skip
    return changed


@dataclass(frozen=True)
class Merged:
    guardians: list[dict[str, Any]] | None
    kept: int  # fields the roster would have changed but that were corrected by hand


def merge_roster_guardian(
    name: str | None, phone: str | None, stored: list[dict[str, Any]] | None
) -> Merged:
    """The guardians after a roster row supplied the first guardian's ``name`` and ``phone``
    (the rule in the module docstring)."""
    if name is None and phone is None:
        return Merged(stored, 0)
    first: dict[str, Any] = dict(stored[0]) if stored else {"relation": None}
    marked = set(first.get(CORRECTED) or [])
    kept = 0
    for field, value in (("name", name), ("phone", phone)):
        if field in marked and first.get(field) != value:
            kept += 1
            continue
        marked.discard(field)
        first[field] = value
    first.pop(CORRECTED, None)
    if marked:
        first[CORRECTED] = sorted(marked)
    ordered = {f: first.get(f) for f in FIELDS} | {
        k: v for k, v in first.items() if k not in FIELDS
    }
    return Merged([ordered, *(stored or [])[1:]], kept)


def load_guardian(
    session: Session, actor: Principal, student: Student, index: int
) -> dict[str, Any]:
    """Guardian ``index`` of ``student`` for the correction form (an empty one for
    ``index == len(guardians)``); audited as a read of the guardians."""
    ensure(actor, Permission.RECORD_WRITE, student)
    guardians = student.guardians or []
    if not 0 <= index <= len(guardians):
        raise NotFound(_l("No such guardian"))
    audit.record(
        session, AuditAction.STUDENT_VIEW, object_type="student", object_id=student.id,
        student_id=student.id, school_id=student.school_id, fields=["guardians"],
    )  # fmt: skip
    return dict(guardians[index]) if index < len(guardians) else {}
