"""Screening result files: column layout, cell parsing and the two-pass import.

One row per student: a ``student_number`` column (学号), a ``school_code`` column when the
campaign covers several schools, and one column per item named ``<instrument>_<item>`` (for
PHQ-9, whose item codes already start with ``phq9_``: ``phq9_1`` … ``phq9_9``). Answers are the
option values, or the option labels exactly as written in the instrument (zh_CN or en), as some
survey platforms export them. Other layouts go through a saved :class:`ColumnMapping`
(``{header as in the file: column name above, or "" to ignore}``).

Like the roster import, the whole file is validated first, streaming (unknown students,
out-of-range answers, duplicates, wrong columns, wrong encoding → per-row errors, nothing
written); only a clean file is then read again and written, in batches, in one transaction.
Messages never contain a cell's value.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import audit, events
from ...core.audit import AuditAction
from ...core.authz import Principal
from ...core.rawsql import RawSQL
from ...core.tabular import TabularError, open_table
from ...students.roster import FieldError, parse_student_number
from ..engine.instruments import Instrument, builtin_instruments
from ..errors import IntakeError
from ..models import Campaign, ColumnMapping
from .pipeline import BATCH, Entry, Intake, Report, RowError, all_or_nothing

STUDENT = "student_number"
SCHOOL = "school_code"
_ALIASES = {
    STUDENT: ("student_number", "student_no", "student_id", "学号"),
    SCHOOL: ("school_code", "school", "学校代码", "学校编码"),
}


def header_key(text: str) -> str:
    """``" PHQ9-1 "`` → ``"phq9_1"``; ``"Student Number"`` → ``"student_number"``."""
    folded = unicodedata.normalize("NFKC", text).strip().casefold()
    return re.sub(r"[\s\-_]+", "_", folded)


_FIELD_BY_KEY = {header_key(a): f for f, aliases in _ALIASES.items() for a in aliases}


@dataclass(frozen=True)
class ItemColumn:
    header: str
    instrument: str
    item: str
    values: dict[str, int]  # cell text (value or label) → option value
    allowed: str


@dataclass
class Layout:
    student: str | None = None
    school: str | None = None
    items: list[ItemColumn] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    # Per instrument in the file: every item code in the instrument's order, with its column
    # (None for an unscored item the file leaves out), so rows come out complete and ordered.
    plan: list[tuple[str, list[tuple[str, ItemColumn | None]]]] = field(default_factory=list)


def item_columns(instruments: dict[str, Instrument]) -> dict[str, tuple[str, str]]:
    """Column key → (instrument, item) for the canonical ``<instrument>_<item>`` names."""
    out: dict[str, tuple[str, str]] = {}
    for code, instrument in instruments.items():
        for item in instrument.items:
            out[header_key(f"{code}_{item.code}")] = (code, item.code)
            if item.code.startswith(f"{code}_"):
                out[header_key(item.code)] = (code, item.code)
    return out


def _cell_values(instrument: Instrument, item_code: str) -> tuple[dict[str, int], str]:
    item = instrument.item(item_code)
    values: dict[str, int] = {}
    for option in item.options:
        values[str(option.value)] = option.value
        values[f"{option.value}.0"] = option.value
        values[unicodedata.normalize("NFKC", option.label.zh_CN).strip()] = option.value
        values[option.label.en.strip().casefold()] = option.value
    return values, ", ".join(str(v) for v in sorted(item.values))


def resolve_layout(
    headers: list[str], header_row: int, instruments: dict[str, Instrument],
    mapping: dict[str, str] | None, needs_school: bool,
) -> Layout:  # fmt: skip
    layout = Layout()
    wanted = item_columns(instruments)
    others = item_columns({c: i for c, i in builtin_instruments().items() if c not in instruments})
    mapped = {header_key(k): v for k, v in (mapping or {}).items()}
    seen: dict[tuple[str, str], str] = {}
    for header in headers:
        key = header_key(header)
        if mapping is not None:
            if key not in mapped:
                layout.warnings.append(
                    RowError(header_row, header, "column not in the mapping, ignored")
                )
                continue
            key = header_key(mapped[key])
            if not key:
                continue
        name = _FIELD_BY_KEY.get(key)
        if name is not None:
            if getattr(layout, "student" if name == STUDENT else "school") is not None:
                layout.errors.append(
                    RowError(header_row, header, f"more than one column for {name}")
                )
            elif name == STUDENT:
                layout.student = header
            else:
                layout.school = header
            continue
        target = wanted.get(key)
        if target is None:
            message = "unknown column"
            if key in others:
                message = f"instrument {others[key][0]} is not part of this campaign"
            layout.errors.append(RowError(header_row, header, message))
            continue
        if target in seen:
            layout.errors.append(
                RowError(header_row, header, f"more than one column for {target[1]}")
            )
            continue
        seen[target] = header
        values, allowed = _cell_values(instruments[target[0]], target[1])
        layout.items.append(ItemColumn(header, target[0], target[1], values, allowed))
    if layout.student is None:
        layout.errors.insert(
            0, RowError(header_row, STUDENT, "missing required column student_number (学号)")
        )
    if needs_school and layout.school is None:
        layout.errors.insert(
            0,
            RowError(
                header_row,
                SCHOOL,
                "missing column school_code: the campaign covers several schools",
            ),
        )
    present = {c.instrument for c in layout.items}
    for code in present:
        missing = [
            i.code for i in instruments[code].items if i.scored and (code, i.code) not in seen
        ]
        if missing:
            layout.errors.append(
                RowError(header_row, ", ".join(missing), f"missing columns for {code}")
            )
    if not present and not layout.errors:
        layout.errors.append(
            RowError(header_row, "", "no item columns of this campaign's instruments")
        )
    by_item = {(c.instrument, c.item): c for c in layout.items}
    layout.plan = [
        (code, [(i.code, by_item.get((code, i.code))) for i in instruments[code].items])
        for code in instruments
        if code in present
    ]
    return layout


def parse_row(row: int, cells: dict[str, str], layout: Layout, report: Report) -> Entry | None:
    """One row as an :class:`Entry`, or None (errors added to ``report``)."""
    ok = True
    try:
        number = parse_student_number(cells.get(layout.student or "", ""))
    except FieldError as exc:
        report.add_error(RowError(row, layout.student or STUDENT, str(exc)))
        number, ok = "", False
    school = cells.get(layout.school, "").strip() if layout.school else None
    if layout.school and not school:
        report.add_error(RowError(row, layout.school, "required"))
        ok = False
    answers: dict[str, dict[str, int | None]] = {}
    for code, plan in layout.plan:
        per: dict[str, int | None] = {}
        given = False
        for item, column in plan:
            text = cells[column.header].strip() if column is not None else ""
            if not text or column is None:
                per[item] = None
                continue
            value = column.values.get(text)
            if value is None:
                value = column.values.get(unicodedata.normalize("NFKC", text).strip().casefold())
            if value is None:
                report.add_error(
                    RowError(row, column.header, f"not an allowed answer ({column.allowed})")
                )
                ok = False
                continue
            per[item] = value
            given = True
        if given:
            answers[code] = per
    if not answers and ok:
        report.add_error(RowError(row, "", "no answers in this row"))
        ok = False
    if not ok:
        return None
    return Entry(row=row, answers=answers, student_number=number, school_code=school or None,
                 column=layout.student or STUDENT, complete=True)  # fmt: skip


def load_mapping(session: Session, campaign: Campaign, name: str) -> dict[str, str]:
    row = session.scalar(
        select(ColumnMapping).where(
            ColumnMapping.district_id == campaign.district_id, ColumnMapping.name == name
        )
    )
    if row is None or (
        row.school_id is not None and campaign.school_id not in (None, row.school_id)
    ):
        raise IntakeError(_l("no column mapping named “%(name)s”"), name=name)
    return {str(k): str(v) for k, v in row.mapping.items()}


def _entries(
    path: Path, intake: Intake, mapping: dict[str, str] | None, report: Report
) -> Iterator[list[Entry]]:
    """Batches of parsed rows; the layout's errors end the stream early."""
    needs_school = intake.single_school is None
    with open_table(path) as table:
        layout = resolve_layout(
            table.headers, table.header_row, intake.instruments, mapping, needs_school
        )
        report.warnings = layout.warnings
        for error in layout.errors:
            report.add_error(error)
        if layout.errors:
            return
        batch: list[Entry] = []
        for row, cells in table:
            report.rows_total += 1
            entry = parse_row(row, cells, layout, report)
            if entry is not None:
                batch.append(entry)
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
        if report.rows_total == 0:
            report.add_error(RowError(table.header_row, "", "file has no data rows"))


def import_file(
    session: Session,
    actor: Principal | None,
    campaign: Campaign,
    path: Path,
    *,
    dry_run: bool = False,
    mapping_name: str | None = None,
    entered_by: uuid.UUID | None = None,
    now: Any = None,
) -> Report:
    """Import a file in this transaction, all or nothing: every row is checked, and what was
    written is rolled back (to a savepoint) unless the whole file was clean; a dry run always
    rolls back, after scoring and tiering everything, so its summary is the real one.

    Raises :class:`IntakeError` when the campaign refuses entries, and
    :class:`~wellbeing.core.tabular.TabularError` for an unreadable file.
    """
    intake = Intake(session, campaign, source="file", actor=actor, entered_by=entered_by, now=now)
    mapping = load_mapping(session, campaign, mapping_name) if mapping_name else None
    report = Report()
    # Alerts, crises and follow-ups for the whole file at once (one digest email per person,
    # not one per batch), and only for a clean file that is kept.
    # Responses arrive in random key order into five B-tree indexes: with SQLite's default
    # 2 MB page cache a district import would spend most of its time re-reading pages.
    with (
        RawSQL(session).big_cache(),
        all_or_nothing(session, report, dry_run=dry_run),
        events.deferred() as pending,
    ):
        for batch in _entries(path, intake, mapping, report):
            intake.process(batch, report, mode="write")
        if report.ok and not dry_run:
            pending.flush(session)
        else:  # rolled back: what it emitted must not reach an enclosing deferred() either
            pending.discard()
    if report.ok and not dry_run:
        audit.record(
            session, AuditAction.SCREENING_IMPORT, object_type="campaign", object_id=campaign.id,
            school_id=campaign.school_id, fields=["screening.answers", "screening.scores"],
            detail={"source": "file", "rows": report.rows_total, "created": report.created,
                    "unchanged": report.unchanged, "critical": report.critical, "tiers": report.tiers},
        )  # fmt: skip
    return report


__all__ = ["TabularError", "import_file", "parse_row", "resolve_layout"]
