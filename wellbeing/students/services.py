"""The student register: roster import (search and the student page: :mod:`.reading`).

Roster import is two streaming passes over the file: :func:`~.roster.validate_roster` checks
everything first (nothing is written when anything is wrong), then :func:`~.roster.iter_roster`
feeds batches that are matched, compared and written inside one savepoint. Only one batch of
rows and their students are in memory at a time.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import tempfile
import uuid
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..core import audit
from ..core.authz import Permission, Principal, ensure
from ..core.errors import DomainError
from ..core.tabular import TabularError
from ..orgs.models import School, SchoolClass
from ..orgs.services import create_class
from . import transfer_roster
from .guardians import Merged, merge_roster_guardian
from .models import Student, initials_index, name_initials
from .roster import RosterError, RosterRow, RowError, iter_roster, validate_roster

BATCH_SIZE = 500
_FOLDED_DUPLICATE = "duplicate student number (differs only in letter case or width)"
# What the roster import writes (names of fields, for the audit entry).
ROSTER_FIELDS = (
    "student_number", "name", "sex", "birth_date", "grade", "class", "national_id", "guardians",
)  # fmt: skip


class StudentError(DomainError):
    """Refused input; the message is shown to the user."""

    code = "student_refused"


# --------------------------------------------------------------------------- roster import


@dataclass
class ImportResult:
    filename: str
    dry_run: bool
    rows_total: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_truncated: int = 0
    warnings: list[RowError] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Guardian fields the file would have changed but a person corrected by hand since (kept).
    guardian_fields_kept: int = 0
    # (grade, label) of classes named in the file that did not exist (created unless dry run).
    classes_created: list[tuple[int, str]] = field(default_factory=list)
    # Students of other schools of the district recognised in the file and moved here
    # (``transfer_roster.find_arrivals``), and rows naming a student moved away from this school
    # (not moved back, not created: a stale roster must not undo a transfer).
    transferred_in: int = 0
    transfer_skipped: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and not self.errors_truncated

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run


class _Abort(Exception):
    def __init__(self, error: RowError) -> None:
        super().__init__(error.message)
        self.error = error


def import_roster(
    session: Session,
    actor: Principal | None,
    school: School,
    source: str | os.PathLike[str] | IO[bytes],
    filename: str,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    today: dt.date | None = None,
) -> ImportResult:
    """Validate the whole file, then (unless ``dry_run``) import it atomically.

    ``source`` is a path or a binary stream (an upload); a stream is spooled to a private
    temporary file named after ``filename``'s extension. ``actor`` None means the CLI or the
    demo seed. On any error nothing is written and the result carries the per-row report.
    """
    if actor is not None:
        ensure(actor, Permission.ROSTER_IMPORT, school)
    result = ImportResult(filename=Path(filename).name, dry_run=dry_run)
    with _as_path(source, filename) as path:
        try:
            report = validate_roster(path, today=today)
        except TabularError as exc:
            result.errors.append(RowError(0, "", str(exc)))
            return result
        result.rows_total = report.rows_total
        result.errors, result.errors_truncated = report.errors, report.errors_truncated
        result.warnings = report.warnings
        if not report.ok:
            return result
        try:
            with session.begin_nested():
                by_id = actor.user_id if actor is not None else None
                _write(session, school, path, report.classes, result, batch_size, today, by_id)
                if dry_run:
                    raise _DryRunDone
        except _DryRunDone:
            pass
        except (RosterError, TabularError, _Abort) as exc:
            error = (
                exc.error if isinstance(exc, RosterError | _Abort) else RowError(0, "", str(exc))
            )
            return ImportResult(result.filename, dry_run, result.rows_total, [error])
    if not dry_run:
        audit.record(
            session, audit.AuditAction.ROSTER_IMPORT, object_type="school", object_id=school.id,
            school_id=school.id, fields=ROSTER_FIELDS,
            detail={"rows": result.rows_total, "created": result.created, "updated": result.updated,
                    "unchanged": result.unchanged, "classes_created": len(result.classes_created),
                    "transferred_in": result.transferred_in,
                    "transfer_skipped": result.transfer_skipped,
                    "file_type": Path(filename).suffix.lower().lstrip(".")[:8]},
        )  # fmt: skip
    return result


class _DryRunDone(Exception):
    """Raised inside the savepoint so a dry run leaves nothing behind."""


@contextmanager
def _as_path(source: str | os.PathLike[str] | IO[bytes], filename: str) -> Iterator[Path]:
    if isinstance(source, str | os.PathLike):
        yield Path(source)
        return
    suffix = Path(filename).suffix.lower()[:8]
    with tempfile.TemporaryDirectory(prefix="wellbeing-roster-") as tmp:  # mode 0700
        path = Path(tmp) / f"upload{suffix}"
        with path.open("wb") as out:
            shutil.copyfileobj(source, out, 64 * 1024)
        yield path


def _batched(rows: Iterable[RosterRow], size: int) -> Iterator[list[RosterRow]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _write(
    session: Session,
    school: School,
    path: Path,
    named_classes: set[tuple[int, str]],
    result: ImportResult,
    batch_size: int,
    today: dt.date | None,
    by_id: uuid.UUID | None = None,
) -> None:
    classes = {
        (c.grade, c.label): c.id
        for c in session.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id))
    }
    result.classes_created = sorted(named_classes - classes.keys())
    for grade, label in result.classes_created:
        classes[(grade, label)] = create_class(session, None, school, grade, label).id
    # Blind indexes of the rows, 8 bytes each: after the last batch they reveal numbers that
    # differ only in letter case (the parser's duplicate check compares them as written).
    seen = _SeenNumbers()
    for batch in _batched(iter_roster(path, today=today), batch_size):
        _write_batch(session, school, batch, classes, seen, result, by_id)
    seen.check()


class _SeenNumbers:
    def __init__(self) -> None:
        self.keys, self.rows = array("Q"), array("L")

    def add(self, keyed: dict[bytes, RosterRow]) -> None:
        self.keys.extend(int.from_bytes(key, "big") for key in keyed)
        self.rows.extend(row.row for row in keyed.values())

    def check(self) -> None:
        ordered = sorted(self.keys)
        twice = next((a for a, b in itertools.pairwise(ordered) if a == b), None)
        if twice is not None:
            second = [i for i, key in enumerate(self.keys) if key == twice][1]
            raise _Abort(RowError(self.rows[second], "student_number", _FOLDED_DUPLICATE))


def _write_batch(
    session: Session,
    school: School,
    batch: list[RosterRow],
    classes: dict[tuple[int, str], uuid.UUID],
    seen: _SeenNumbers,
    result: ImportResult,
    by_id: uuid.UUID | None = None,
) -> None:
    index = Student.student_number.blind_index
    keyed: dict[bytes, RosterRow] = {}
    for row in batch:
        key = index(school.id, row.student_number)
        if key in keyed:
            raise _Abort(RowError(row.row, "student_number", _FOLDED_DUPLICATE))
        keyed[key] = row
    seen.add(keyed)
    stmt = select(Student).where(
        Student.school_id == school.id, Student.student_number_bidx.in_(list(keyed))
    )
    existing = {s.student_number_bidx: s for s in session.scalars(stmt)}
    moved, skipped = transfer_roster.take_arrivals(
        session, school, keyed, existing, lambda r: classes[(r.grade, r.class_label)], by_id
    )
    result.transferred_in += moved
    result.transfer_skipped += len(skipped)
    new_rows: list[dict[str, Any]] = []
    for key, row in keyed.items():
        class_id = classes[(row.grade, row.class_label)]
        student = existing.get(key)
        if student is None and key in skipped:
            continue
        if student is None:
            new_rows.append(_insert_values(school.id, row, class_id))
            continue
        if student.sealed:  # left or graduated: the record is read-only (students.enrolment)
            result.unchanged += 1
            continue
        changes = _changes(student, row, class_id, result)
        if not changes:
            result.unchanged += 1
            continue
        result.updated += 1
        for name, value in changes.items():
            setattr(student, name, value)
    if new_rows:
        session.execute(insert(Student), new_rows)
        result.created += len(new_rows)
    session.flush()
    for student in existing.values():  # keep memory bounded: the next batch needs none of them
        session.expunge(student)


class _Unsaved:
    """Stands in for a new Student while its encrypted columns are computed for a bulk insert
    (the same descriptors, so the same ciphertext binding and blind indexes as the ORM path)."""

    def __init__(self, row_id: uuid.UUID, school_id: uuid.UUID) -> None:
        self.id, self.school_id = row_id, school_id


def _insert_values(school_id: uuid.UUID, row: RosterRow, class_id: uuid.UUID) -> dict[str, Any]:
    holder = _Unsaved(uuid.uuid4(), school_id)
    values: dict[str, Any] = {
        "id": holder.id, "school_id": school_id, "class_id": class_id, "grade": row.grade,
    }  # fmt: skip
    plain = {
        "student_number": row.student_number, "name": row.name, "sex": row.sex,
        "birth_date": row.birth_date, "national_id": row.national_id,
        "guardians": _guardians(row, None).guardians,
    }  # fmt: skip
    for name, value in plain.items():
        descriptor = Student.__dict__[name]
        descriptor.__set__(holder, value)
        values[descriptor.column] = getattr(holder, descriptor.column)
        if descriptor.index is not None:
            values[descriptor.index.column] = getattr(holder, descriptor.index.column)
    initials = name_initials(row.name)
    values["name_initials_bidx"] = None if initials is None else initials_index(school_id, initials)
    return values


def _guardians(row: RosterRow, stored: list[dict[str, Any]] | None) -> Merged:
    """The roster supplies the first guardian; blank guardian cells keep what is stored, and
    fields corrected by hand are kept (``guardians.merge_roster_guardian``)."""
    return merge_roster_guardian(row.guardian_name, row.guardian_phone, stored)


def _changes(
    student: Student, row: RosterRow, class_id: uuid.UUID, result: ImportResult
) -> dict[str, Any]:
    """Fields whose decrypted value differs from the row. Blank optional cells change nothing;
    guardian fields corrected by hand are kept (counted in ``result.guardian_fields_kept``)."""
    wanted: dict[str, Any] = {
        "student_number": row.student_number,
        "name": row.name,
        "sex": row.sex,
        "birth_date": row.birth_date,
        "grade": row.grade,
        "class_id": class_id,
    }
    if row.national_id is not None:
        wanted["national_id"] = row.national_id
    stored_guardians = student.guardians
    merged = _guardians(row, stored_guardians)
    result.guardian_fields_kept += merged.kept
    guardians = merged.guardians
    if guardians != stored_guardians:
        wanted["guardians"] = guardians
    return {name: value for name, value in wanted.items() if getattr(student, name) != value}
