"""The one path by which responses enter, whatever the way in (form, kiosk, file, API).

Entries are processed in batches: students are resolved by blind index (one query per batch),
checked (campaign scope, grade, duplicates, responses already recorded), then scored, encrypted
and inserted with one executemany; the tier decisions of the batch go to the risk module in one
bulk call and every critical response emits ``CRITICAL_RESPONSE``. No ORM object is made per
row on this path, so a district's 600,000 responses fit in seconds and a few hundred MB.

Messages are short English strings (translated by the caller) that never contain a cell value:
answers are clinical data.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..core import crypto, events
from ..core.authz import Permission, Principal, can
from ..core.crypto import Purpose
from ..db import utcnow
from ..orgs.models import School
from ..students.models import Student
from .instruments import Instrument, InstrumentError, builtin_instruments, with_tier_rules
from .models import Campaign, CampaignSchool, Response
from .report import Report, RowError
from .scoring import score_fast

BATCH = 4000
SQLITE_CACHE_KIB = 131072
MEMO_LIMIT = 50_000


class IntakeError(ValueError):
    """The campaign refuses entries (closed, unknown instrument...). Safe to show."""


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


class StudentRef(NamedTuple):
    id: uuid.UUID
    school_id: uuid.UUID
    class_id: uuid.UUID | None
    grade: int
    status: str


class Scored(NamedTuple):
    payload: bytes
    total_band: str | None
    bands: dict[str, str]
    bands_json: str
    tier: int
    tier_rule: str | None
    critical: bool
    voided: bool
    incomplete: bool


def campaign_instruments(session: Session, campaign: Campaign) -> dict[str, Instrument]:
    """The campaign's instruments, with the district policy's tier rules when it has some."""
    available = builtin_instruments()
    rules: Any = {}
    try:
        from ..risk.policy import current_policy

        rules = current_policy(session, campaign.district_id).screening_rules
    except ImportError:  # pragma: no cover - the risk module ships with the app
        pass
    out: dict[str, Instrument] = {}
    for code in campaign.instruments:
        if code not in available:
            raise IntakeError(f"instrument '{code}' is not installed")
        instrument = available[code]
        if code in rules:
            try:
                instrument = with_tier_rules(instrument, [dict(r) for r in rules[code]])
            except InstrumentError as exc:
                raise IntakeError(
                    f"the district's tier rules for {code} are invalid: {exc}"
                ) from None
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
        if check_dates and not campaign.accepts_on(self.now.date()):
            raise IntakeError("the campaign is not open for responses")
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
        self._index = {code: n for n, code in enumerate(self.instruments)}
        self.seen: dict[int, int] = {}
        self.keys_seen: dict[str, int] = {}
        self._memo: dict[tuple[str, tuple[int | None, ...]], Scored] = {}
        self._keyring = crypto.current_keyring()
        self._bidx = Student.student_number.blind_index  # type: ignore[attr-defined]
        self._context = Response.data.context  # type: ignore[attr-defined]
        self._sqlite = session.get_bind().dialect.name == "sqlite"
        if self._sqlite:
            # Responses arrive in random key order into five B-tree indexes: with SQLite's
            # default 2 MB page cache a district import spends most of its time re-reading
            # pages. 128 MB for this connection (page-cache memory, not heap).
            session.connection().exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        self._campaign_hex = campaign.id.hex
        self._entered_hex = entered_by.hex if entered_by else None
        # SQLAlchemy's DateTime text form on SQLite (UTCDateTime stores UTC).
        self._now_text = self.now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def reset(self) -> None:
        """Forget the rows seen (before a second pass over the same input)."""
        self.seen.clear()
        self.keys_seen.clear()

    # ------------------------------------------------------------------ resolve and check

    def _resolve(self, entries: Sequence[Entry], report: Report) -> dict[int, StudentRef]:
        """Row → student, one query per batch; errors for unknown or out-of-scope students."""
        wanted: dict[tuple[uuid.UUID, bytes], list[Entry]] = {}
        by_id: dict[uuid.UUID, list[Entry]] = {}
        for entry in entries:
            if entry.student_id is not None:
                by_id.setdefault(entry.student_id, []).append(entry)
                continue
            school_id = self.single_school
            if entry.school_code:
                school_id = self.school_by_code.get(entry.school_code)
                if school_id is None:
                    report.add_error(
                        RowError(entry.row, "school_code", "school is not part of this campaign")
                    )
                    continue
            elif school_id is None:
                report.add_error(
                    RowError(
                        entry.row, "school_code", "required: the campaign covers several schools"
                    )
                )
                continue
            if school_id not in self.allowed:
                report.add_error(
                    RowError(
                        entry.row, "school_code", "you may not enter responses for this school"
                    )
                )
                continue
            key = (school_id, self._bidx(school_id, entry.student_number or ""))
            wanted.setdefault(key, []).append(entry)
        found: dict[int, StudentRef] = {}
        cols = (Student.id, Student.school_id, Student.class_id, Student.grade, Student.status)
        if wanted:
            stmt = select(*cols, Student.student_number_bidx).where(
                Student.student_number_bidx.in_({k[1] for k in wanted}),
                Student.school_id.in_({k[0] for k in wanted}),
            )
            for *values, bidx in self.session.execute(stmt):
                for entry in wanted.pop((values[1], bidx), ()):
                    found[entry.row] = StudentRef(*values)
            for group in wanted.values():
                for entry in group:
                    report.add_error(
                        RowError(entry.row, entry.column, "unknown student number for this school")
                    )
        if by_id:
            for values in self.session.execute(select(*cols).where(Student.id.in_(list(by_id)))):
                for entry in by_id.pop(values[0]):
                    found[entry.row] = StudentRef(*values)
            for group in by_id.values():
                for entry in group:
                    report.add_error(RowError(entry.row, entry.column, "unknown student"))
        for entry in entries:
            ref = found.get(entry.row)
            if ref is None:
                continue
            problem = None
            if ref.school_id not in self.allowed:
                problem = "student is not at a school of this campaign you may enter for"
            elif ref.status != "active":
                problem = "student is not active"
            elif ref.grade not in self.grades:
                problem = "student's grade is not part of this campaign"
            if problem:
                report.add_error(RowError(entry.row, entry.column, problem))
                del found[entry.row]
        return found

    def _existing(
        self, student_ids: list[uuid.UUID], keys: list[str]
    ) -> dict[Any, tuple[uuid.UUID, uuid.UUID, str, bytes, str | None]]:
        """Responses already recorded, by (student_id, instrument) and by idempotency key."""
        out: dict[Any, tuple[uuid.UUID, uuid.UUID, str, bytes, str | None]] = {}
        cols = (
            Response.id,
            Response.student_id,
            Response.instrument,
            Response.data_ct,
            Response.idempotency_key,
        )
        base = select(*cols).where(Response.campaign_id == self.campaign.id)
        rows = (
            list(self.session.execute(base.where(Response.student_id.in_(student_ids))))
            if student_ids
            else []
        )
        if keys:
            rows += list(self.session.execute(base.where(Response.idempotency_key.in_(keys))))
        for row in rows:
            out[(row[1], row[2])] = tuple(row)  # type: ignore[assignment]
            if row[4]:
                out[("key", row[4])] = tuple(row)  # type: ignore[assignment]
        return out

    def _recorded_answers(self, response_id: uuid.UUID, blob: bytes) -> dict[str, Any]:
        raw = self._keyring.decrypt(blob, self._context(response_id))
        return json.loads(raw)["answers"]

    def _normalized(
        self, instrument: Instrument, answers: dict[str, int | None]
    ) -> dict[str, int | None]:
        return {item.code: answers.get(item.code) for item in instrument.items}

    # ------------------------------------------------------------------ scoring

    def _score(self, instrument: Instrument, answers: dict[str, int | None]) -> Scored:
        key = (instrument.code, tuple(answers.values()))
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        result = score_fast(instrument, answers)
        scales = result.scales
        bands = {code: s.band for code, s in scales.items() if s.band is not None}
        total = scales.get(instrument.total) if instrument.total else None
        fired = [r for r in instrument.tier_rules if r.code in result.tier_rules]
        top = max(fired, key=lambda r: r.tier, default=None)
        payload = {"answers": answers, "scores": result.to_dict()}
        scored = Scored(
            payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
            total_band=total.band if total else None,
            bands=bands,
            bands_json=json.dumps(bands),
            tier=result.tier,
            tier_rule=top.code if top and result.tier else None,
            critical=bool(result.critical),
            voided=result.void,
            incomplete=any(s.incomplete for s in scales.values()),
        )
        if len(self._memo) < MEMO_LIMIT:
            self._memo[key] = scored
        return scored

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
        for entry, ref in pairs:
            for code in entry.answers:
                first = self.seen.setdefault(ref.id.int * 64 + self._index[code], entry.row)
                if first != entry.row:
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
        existing = self._existing([ref.id for _, ref in pairs], [e.key for e, _ in pairs if e.key])
        new_rows: list[dict[str, Any]] = []
        decisions: dict[uuid.UUID, tuple[int, uuid.UUID, str | None]] = {}
        criticals: list[tuple[uuid.UUID, uuid.UUID, str]] = []
        for entry, ref in pairs:
            student_tier: tuple[int, uuid.UUID, str | None] | None = None
            for code, raw in entry.answers.items():
                instrument = self.instruments[code]
                answers = self._normalized(instrument, raw)
                old = existing.get(("key", entry.key)) if entry.key else None
                if old is not None and (old[1], old[2]) != (ref.id, code):
                    report.add_error(
                        RowError(entry.row, "key", "key already used for another response")
                    )
                    continue
                old = old or existing.get((ref.id, code))
                if old is not None:
                    if self._recorded_answers(old[0], old[3]) != answers:
                        report.add_error(RowError(
                            entry.row, entry.column, f"a different {code} response is already recorded for this student"
                        ))  # fmt: skip
                    else:
                        report.unchanged += 1
                        report.results[entry.row] = (old[0], False)
                    continue
                if mode == "validate":
                    continue
                scored = self._score(instrument, answers)
                response_id = uuid.uuid4()
                report.created += 1
                report.results[entry.row] = (response_id, True)
                if scored.critical:
                    report.critical += 1
                    criticals.append((ref.id, response_id, code))
                if student_tier is None or scored.tier > student_tier[0]:
                    student_tier = (scored.tier, response_id, scored.tier_rule)
                if mode == "write":
                    new_rows.append(self._row(response_id, entry, ref, code, scored))
            if student_tier is not None:
                report.tiers[student_tier[0]] += 1
                decisions[ref.id] = student_tier
        if mode == "write" and report.ok and new_rows:
            self._write(new_rows, decisions, criticals)

    def _row(
        self, response_id: uuid.UUID, entry: Entry, ref: StudentRef, code: str, scored: Scored
    ) -> Any:
        blob = self._keyring.encrypt(scored.payload, Purpose.CLINICAL, self._context(response_id))
        if self._sqlite:  # values as SQLAlchemy would bind them on SQLite, for a raw executemany
            return (
                response_id.hex, self._campaign_hex, ref.id.hex, ref.school_id.hex,
                ref.class_id.hex if ref.class_id else None, ref.grade, code, scored.total_band,
                scored.bands_json, scored.tier, scored.tier_rule, int(scored.critical),
                int(scored.voided), int(scored.incomplete), self.source, entry.key,
                self._entered_hex, self._now_text, blob,
            )  # fmt: skip
        return dict(zip(COLUMNS, (
            response_id, self.campaign.id, ref.id, ref.school_id, ref.class_id, ref.grade, code,
            scored.total_band, scored.bands, scored.tier, scored.tier_rule, scored.critical,
            scored.voided, scored.incomplete, self.source, entry.key, self.entered_by, self.now, blob,
        ), strict=True))  # fmt: skip

    def _write(
        self,
        rows: list[Any],
        decisions: dict[uuid.UUID, tuple[int, uuid.UUID, str | None]],
        criticals: list[tuple[uuid.UUID, uuid.UUID, str]],
    ) -> None:
        from ..risk.services import apply_rule_tiers

        if self._sqlite:
            self.session.connection().exec_driver_sql(_SQLITE_INSERT, rows)
        else:
            self.session.execute(insert(Response.__table__), rows)
        apply_rule_tiers(
            self.session,
            [(sid, tier, rid, rule) for sid, (tier, rid, rule) in decisions.items() if tier > 0],
            source="screening",
            now=self.now,
        )
        if criticals and events._handlers.get(events.CRITICAL_RESPONSE):
            students = {
                s.id: s
                for s in self.session.scalars(
                    select(Student).where(Student.id.in_({c[0] for c in criticals}))
                )
            }
            for student_id, response_id, code in criticals:
                events.emit(
                    events.CRITICAL_RESPONSE, self.session, students[student_id], response_id, code
                )


COLUMNS = (
    "id", "campaign_id", "student_id", "school_id", "class_id", "grade", "instrument", "total_band",
    "bands", "tier", "tier_rule", "critical", "voided", "incomplete", "source", "idempotency_key",
    "entered_by", "created_at", "data_ct",
)  # fmt: skip
_SQLITE_INSERT = f"INSERT INTO screening_response ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"  # noqa: S608


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
    "IntakeError",
    "Report",
    "RowError",
    "campaign_instruments",
    "replace",
]
