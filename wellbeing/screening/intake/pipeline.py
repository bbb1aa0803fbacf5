"""The one path by which responses enter, whatever the way in (form, kiosk, file, API).

Entries are processed in batches: students are resolved by blind index (one index probe per
number), checked (campaign scope, grade, duplicates, responses already recorded), then scored
(memoised per answer pattern, :mod:`.stored`), encrypted and inserted in one executemany (COPY
on PostgreSQL) through :mod:`.rows`, in the backend's stored form: no ORM object, no
``uuid.UUID`` and no SQLAlchemy parameter processing per row. The tier decisions of a batch go
to the risk module in one bulk call, and critical responses to ``CRITICAL_RESPONSE`` through
``CRITICAL_RESPONSE.emit_many`` (a file import defers both to its end, see :mod:`.importer`). A district's
600,000 responses take under a minute and a few hundred MB (``bench/screening_bench.py``).

Messages are short English strings (translated by the page, :mod:`.messages`) that never
contain a cell value: answers are clinical data.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import crypto
from ...core.authz import Permission, Principal, can
from ...core.crypto import Purpose
from ...core.events import CRITICAL_RESPONSE, CriticalResponse
from ...db import utcnow
from ...orgs.models import School
from ...risk.policy import current_policy
from ...risk.services import apply_rule_tiers
from ...students.models import Student
from ..clock import local_today
from ..engine.instruments import Instrument, InstrumentError, builtin_instruments, with_tier_rules
from ..engine.stored import Scored, Scorer
from ..errors import IntakeError
from ..models import Campaign, CampaignSchool, Response
from .report import Report, RowError
from .rows import Driver
from .seen import Seen

BATCH = 4000


@dataclass(slots=True)
class Entry:
    """One student's answers: ``answers`` maps instrument code → {item code: value or None}."""

    row: int
    answers: dict[str, dict[str, int | None]]
    student_number: str | None = None
    school_code: str | None = None
    student_id: uuid.UUID | None = None
    key: str | None = None
    column: str = "student_number"
    # True when ``answers`` already lists every item of each instrument, in the instrument's
    # order (the file parser builds them so); otherwise the intake normalises them.
    complete: bool = False


class StudentRef(NamedTuple):
    """A student as stored: ids are the backend's keys (see :mod:`.rows`)."""

    id: Any
    school_id: Any
    class_id: Any
    grade: int
    status: str


def campaign_instruments(session: Session, campaign: Campaign) -> dict[str, Instrument]:
    """The campaign's instruments, with the district policy's tier rules when it has some."""
    available = builtin_instruments()
    rules: Any = current_policy(session, campaign.district_id).screening_rules
    out: dict[str, Instrument] = {}
    for code in campaign.instruments:
        if code not in available:
            raise IntakeError(_l("instrument %(instrument)s is not installed"), instrument=code)
        instrument = available[code]
        if code in rules:
            try:
                instrument = with_tier_rules(instrument, [dict(r) for r in rules[code]])
            except InstrumentError as exc:
                # The detail is the policy checker's English (the API lists it in ``details``).
                raise IntakeError(
                    _l("the district's tier rules for %(instrument)s are invalid"),
                    instrument=code, detail=str(exc),
                ) from None  # fmt: skip
        out[code] = instrument
    return out


def campaign_school_ids(session: Session, campaign: Campaign) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(CampaignSchool.school_id).where(CampaignSchool.campaign_id == campaign.id)
        )
    )


class Intake:
    """Checks and writes entries for one campaign, on behalf of ``actor`` (None = system)."""

    def __init__(
        self,
        session: Session,
        campaign: Campaign,
        *,
        source: str,
        actor: Principal | None,
        entered_by: uuid.UUID | None = None,
        now: dt.datetime | None = None,
        check_dates: bool = True,
    ) -> None:
        self.session, self.campaign, self.source, self.actor = session, campaign, source, actor
        self.entered_by = entered_by
        self.now = now or utcnow()
        if check_dates and not campaign.accepts_on(local_today(self.now)):
            raise IntakeError(_l("the campaign is not open for responses"))
        self.instruments = campaign_instruments(session, campaign)
        school_ids = campaign_school_ids(session, campaign)
        schools = session.execute(
            select(School.id, School.code).where(School.id.in_(school_ids))
        ).all()
        self.school_by_code = {code: sid for sid, code in schools}
        self.allowed = {
            sid for sid, _ in schools
            if actor is None or can(actor, Permission.SCREENING_MANAGE, _SchoolRef(sid))
            or can(actor, Permission.SCREENING_KIOSK, _SchoolRef(sid))
            or can(actor, Permission.API_SCREENING_INTAKE, _SchoolRef(sid))
        }  # fmt: skip
        self.single_school = school_ids[0] if len(school_ids) == 1 else None
        self.grades = frozenset(campaign.grades)
        self.seen = Seen(list(self.instruments))
        self.keys_seen: dict[str, int] = {}
        self._score = Scorer()
        self._keyring = crypto.current_keyring()
        number = Student.student_number
        self._bidx_name = f"{number.table}.{number.name}"
        self._scopes = {sid: str(sid) for sid, _ in schools}  # blind-index scope per school
        self._context = Response.data.context
        self.drv = Driver(session)
        self._allowed_keys = {self.drv.key(sid) for sid in self.allowed}
        self._school_key = {sid: self.drv.key(sid) for sid, _ in schools}
        self._campaign_key = self.drv.key(campaign.id)
        self._entered_key = self.drv.key(entered_by) if entered_by else None
        self._now_stored = self.drv.timestamp(self.now)
        # Per-entry response ids are kept for the API and the form; a file import of a whole
        # district would hold 600,000 of them for nobody.
        self.track_results = source != "file"

    # ------------------------------------------------------------------ resolve and check

    def _resolve(self, entries: Sequence[Entry], report: Report) -> dict[int, StudentRef]:
        """Row → student, one index probe per student number; errors for unknown or
        out-of-scope students."""
        wanted: dict[bytes, list[tuple[Any, Entry]]] = {}
        by_id: dict[Any, list[Entry]] = {}
        for entry in entries:
            if entry.student_id is not None:
                by_id.setdefault(self.drv.key(entry.student_id), []).append(entry)
                continue
            school_id = self._school_of(entry, report)
            if school_id is None:
                continue
            digest = self._keyring.blind_index(
                self._bidx_name, self._scopes[school_id], entry.student_number or ""
            )
            wanted.setdefault(digest, []).append((self._school_key[school_id], entry))
        found: dict[int, StudentRef] = {}
        if wanted:
            for *values, digest in self.drv.students_by_number(sorted(wanted)):
                ref, unmatched = StudentRef(*values), []  # digests of two schools may collide
                for school, entry in wanted.get(digest, ()):
                    if school == ref.school_id:
                        found[entry.row] = ref
                    else:
                        unmatched.append((school, entry))
                wanted[digest] = unmatched
            for group in wanted.values():
                for _, entry in group:
                    report.add_error(
                        RowError(entry.row, entry.column, "unknown student number for this school")
                    )
        if by_id:
            for row_values in self.drv.students_by_id(list(by_id)):
                for by_student in by_id.pop(row_values[0], ()):
                    found[by_student.row] = StudentRef(*row_values)
            for unknown in by_id.values():
                for by_student in unknown:
                    report.add_error(RowError(by_student.row, by_student.column, "unknown student"))
        column_of: dict[int, str] = {}
        for row, ref in list(found.items()):
            problem = None
            if ref.school_id not in self._allowed_keys:
                problem = "student is not at a school of this campaign you may enter for"
            elif ref.status != "active":
                problem = "student is not active"
            elif ref.grade not in self.grades:
                problem = "student's grade is not part of this campaign"
            if problem:
                column_of = column_of or {e.row: e.column for e in entries}
                report.add_error(RowError(row, column_of[row], problem))
                del found[row]
        return found

    def _school_of(self, entry: Entry, report: Report) -> uuid.UUID | None:
        """The campaign school an entry names (or the only one), if the actor may enter there."""
        school_id = self.single_school
        if entry.school_code:
            school_id = self.school_by_code.get(entry.school_code)
            if school_id is None:
                report.add_error(
                    RowError(entry.row, "school_code", "school is not part of this campaign")
                )
                return None
        elif school_id is None:
            report.add_error(
                RowError(entry.row, "school_code", "required: the campaign covers several schools")
            )
            return None
        if school_id not in self.allowed:
            report.add_error(
                RowError(entry.row, "school_code", "you may not enter responses for this school")
            )
            return None
        return school_id

    def _existing(
        self, student_keys: list[Any], keys: list[str]
    ) -> dict[Any, tuple[Any, Any, str, bytes, str | None]]:
        """Responses already recorded, by (student key, instrument) and by idempotency key."""
        out: dict[Any, tuple[Any, Any, str, bytes, str | None]] = {}
        for row in self.drv.responses(self._campaign_key, student_keys, keys):
            out[(row[1], row[2])] = tuple(row)
            if row[4]:
                out[("key", row[4])] = tuple(row)
        return out

    def _recorded_answers(self, response_key: Any, blob: bytes) -> dict[str, Any]:
        raw = self._keyring.decrypt(blob, self._context(self.drv.uuid(response_key)))
        return json.loads(raw)["answers"]

    def _normalized(
        self, instrument: Instrument, answers: dict[str, int | None]
    ) -> dict[str, int | None]:
        return {item.code: answers.get(item.code) for item in instrument.items}

    # ------------------------------------------------------------------ the batch

    def process(self, entries: Sequence[Entry], report: Report, *, mode: str) -> None:
        """``mode``: "validate" (check only), "plan" (also score and count) or "write".

        Once the report holds an error, "write" degrades to "validate": the caller rolls back
        what earlier batches wrote, and the rest of the input is only checked and reported.
        """
        if not report.ok:
            mode = "validate"
        refs = self._resolve(entries, report)
        pairs = [(e, refs[e.row]) for e in entries if e.row in refs]
        self._check_duplicates(pairs, report)
        work = self._new_answers(pairs, report)
        if mode == "validate" or not work:
            return
        write = mode == "write" and report.ok  # every check of the batch is done by now
        decisions: dict[Any, tuple[int, Any, str | None]] = {}
        criticals: list[tuple[StudentRef, Any, str]] = []
        # PostgreSQL: rows stream into COPY while the next ones are scored and encrypted, so
        # the server inserts and indexes them on the other core.
        with self.drv.response_sink(write) as sink:
            self._create(work, report, sink, decisions, criticals)
        if write:
            self._after_insert(decisions, criticals)

    def _new_answers(
        self, pairs: list[tuple[Entry, StudentRef]], report: Report
    ) -> list[tuple[Entry, StudentRef, list[tuple[str, dict[str, int | None]]]]]:
        """Per entry, the answers not recorded yet; conflicts with recorded ones are errors."""
        existing = self._existing([ref.id for _, ref in pairs], [e.key for e, _ in pairs if e.key])
        work = []
        for entry, ref in pairs:
            todo = []
            for code, raw in entry.answers.items():
                answers = raw if entry.complete else self._normalized(self.instruments[code], raw)
                if existing and self._recorded(entry, ref, code, answers, existing, report):
                    continue
                todo.append((code, answers))
            if todo:
                work.append((entry, ref, todo))
        return work

    def _create(
        self,
        work: list[tuple[Entry, StudentRef, list[tuple[str, dict[str, int | None]]]]],
        report: Report,
        sink: Callable[[tuple[Any, ...]], Any] | None,
        decisions: dict[Any, tuple[int, Any, str | None]],
        criticals: list[tuple[StudentRef, Any, str]],
    ) -> None:
        """Score every new answer, count it, and (with a ``sink``) encrypt and write it."""
        ids = iter(self.drv.new_ids(sum(len(todo) for _, _, todo in work)))
        track = self.track_results
        for entry, ref, todo in work:
            student_tier: tuple[int, Any, str | None] | None = None
            for code, answers in todo:
                scored = self._score(self.instruments[code], answers)
                response_key, response_text = next(ids)
                report.created += 1
                if track:
                    report.results[entry.row] = (self.drv.uuid(response_text), True)
                if scored.critical:
                    report.critical += 1
                    criticals.append((ref, response_text, code))
                if student_tier is None or scored.tier > student_tier[0]:
                    student_tier = (scored.tier, response_text, scored.tier_rule)
                if sink is not None:
                    blob = self._keyring.encrypt(
                        scored.payload, Purpose.CLINICAL, self._context(response_text)
                    )
                    sink(self._row(response_key, entry, ref, code, scored, blob))
            if student_tier is not None:
                self._decide(ref.id, student_tier, decisions, report)

    def _check_duplicates(self, pairs: list[tuple[Entry, StudentRef]], report: Report) -> None:
        """A student (per instrument) or an idempotency key on two rows of the input."""
        for entry, ref in pairs:
            first = self.seen.add(ref.id, entry.row, entry.answers)
            if first is not None:
                where = "row" if self.source == "file" else "entry"
                report.add_error(
                    RowError(
                        entry.row,
                        entry.column,
                        f"duplicate student (first seen on {where} {first})",
                    )
                )
            if entry.key:
                first_key = self.keys_seen.setdefault(entry.key, entry.row)
                if first_key != entry.row:
                    report.add_error(
                        RowError(
                            entry.row, "key", f"duplicate key (first seen on entry {first_key})"
                        )
                    )

    def _decide(
        self,
        key: Any,
        student_tier: tuple[int, Any, str | None],
        decisions: dict[Any, tuple[int, Any, str | None]],
        report: Report,
    ) -> None:
        """A student's decision is the highest over all rows carrying their answers (possibly in
        several batches), counted once; a batch decides only when it raises an earlier one."""
        replaced = self.seen.raise_tier(key, student_tier[0])
        if replaced is None:
            return
        if replaced >= 0:
            report.tiers[replaced] -= 1
        report.tiers[student_tier[0]] += 1
        decisions[key] = student_tier

    def _recorded(
        self,
        entry: Entry,
        ref: StudentRef,
        code: str,
        answers: dict[str, int | None],
        existing: dict[Any, tuple[Any, Any, str, bytes, str | None]],
        report: Report,
    ) -> bool:
        """True when this answer is already recorded (unchanged, or an error was reported)."""
        old = existing.get(("key", entry.key)) if entry.key else None
        if old is not None and (old[1], old[2]) != (ref.id, code):
            report.add_error(RowError(entry.row, "key", "key already used for another response"))
            return True
        old = old or existing.get((ref.id, code))
        if old is None:
            return False
        if self._recorded_answers(old[0], old[3]) != answers:
            report.add_error(RowError(
                entry.row, entry.column, f"a different {code} response is already recorded for this student"
            ))  # fmt: skip
        else:
            report.unchanged += 1
            if self.track_results:
                report.results[entry.row] = (self.drv.uuid(old[0]), False)
        return True

    def _row(
        self,
        response_key: Any,
        entry: Entry,
        ref: StudentRef,
        code: str,
        scored: Scored,
        blob: bytes,
    ) -> tuple[Any, ...]:
        """Values in :data:`~.rows.COLUMNS` order, as the backend stores them."""
        drv = self.drv
        return (
            response_key, self._campaign_key, ref.id, ref.school_id, ref.class_id, ref.grade, code,
            scored.total_band, scored.bands_json, scored.tier, scored.tier_rule,
            drv.flag(scored.critical), drv.flag(scored.voided), drv.flag(scored.incomplete),
            self.source, entry.key, self._entered_key, self._now_stored, blob,
        )  # fmt: skip

    def _after_insert(
        self,
        decisions: dict[Any, tuple[int, str, str | None]],
        criticals: list[tuple[StudentRef, str, str]],
    ) -> None:
        """The batch's tier decisions (one bulk call) and its critical responses (events)."""
        drv = self.drv
        apply_rule_tiers(
            self.session,
            [
                (drv.uuid(key), tier, drv.uuid(response), rule)
                for key, (tier, response, rule) in decisions.items()
                if tier > 0
            ],
            source="screening",
            now=self.now,
        )
        if criticals and CRITICAL_RESPONSE.has_subscribers():
            items = [
                CriticalResponse(
                    drv.uuid(ref.id), drv.uuid(ref.school_id), drv.uuid(response), code
                )
                for ref, response, code in criticals
            ]
            CRITICAL_RESPONSE.emit_many(self.session, items)


@dataclass(frozen=True)
class _SchoolRef:
    """Something that belongs to a school, for the policy's school-scope check."""

    school_id: uuid.UUID


def run_batches(intake: Intake, entries: Sequence[Entry], report: Report, *, mode: str) -> None:
    for start in range(0, len(entries), BATCH):
        intake.process(entries[start : start + BATCH], report, mode=mode)


@contextmanager
def all_or_nothing(session: Session, report: Report, *, dry_run: bool = False) -> Iterator[None]:
    """A savepoint kept only when the whole input was clean (and this is not a dry run)."""
    savepoint = session.begin_nested()
    try:
        yield
    except BaseException:
        savepoint.rollback()
        raise
    if report.ok and not dry_run:
        savepoint.commit()
    else:
        savepoint.rollback()


__all__ = [
    "Entry",
    "Intake",
    "Report",
    "RowError",
    "campaign_instruments",
    "replace",
]
