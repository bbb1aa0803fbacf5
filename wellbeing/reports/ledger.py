"""The release ledger (issue 16 item 3): record every exported or printed report table, and
refuse one that, differenced against an earlier release of the same scope, would give back a
number that suppression hid.

Each table is suppressed on its own (``reports.suppression``), but two releases of the same
table together say more than either: the same table for two periods a few days apart differ by
the children added in those days, and the same table with and without one school differ by
that school's counts. When a number published in both releases changes by more than nothing
and less than the threshold, the difference is a small count (a child or two): the new release
is refused, with an explanation, before anything leaves.

Compared: every earlier release of the same ``scope`` (the report and what it covers, e.g. the
campaign or the district; not the period nor the schools chosen, which are what such a
difference varies). Not covered: sums of several differences across three or more releases.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, ensure
from ..core.errors import DomainError
from .models import ReportRelease
from .suppression import Suppressed

KINDS = ("export", "print")


class ReleaseRefused(DomainError):
    code = "release_refused"
    status = 409


def table_hash(cells: Mapping[str, int | None]) -> str:
    """SHA-256 of the canonical JSON of the published cells (sorted keys, no spaces)."""
    text = json.dumps(dict(cells), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def revealing_difference(
    earlier: Mapping[str, Any], later: Mapping[str, int | None], threshold: int
) -> str | None:
    """The first cell key (sorted) published in both whose values differ by 1..threshold-1:
    their difference is a count below the threshold. None when there is none."""
    for key in sorted(set(earlier) & set(later)):
        old, new = earlier[key], later[key]
        if old is None or new is None:
            continue
        if 0 < abs(int(new) - int(old)) < threshold:
            return key
    return None


def check_release(
    session: Session, scope: str, cells: Mapping[str, int | None], threshold: int
) -> None:
    """Raise :class:`ReleaseRefused` when ``cells`` differenced against an earlier release of
    ``scope`` would show a count below the threshold."""
    earlier = session.scalars(
        select(ReportRelease).where(ReportRelease.scope == scope).order_by(ReportRelease.created_at)
    )
    for release in earlier:
        limit = max(threshold, release.threshold)
        if revealing_difference(release.cells, cells, limit) is not None:
            raise ReleaseRefused(
                _l(
                    "This table cannot be released: beside the same report released on "
                    "%(date)s, subtracting one table from the other would show a number below "
                    "%(threshold)s, which both keep hidden. Choose a period or schools that "
                    "differ from that release by more children, or use the earlier release."
                ),
                date=release.created_at.date().isoformat(),
                threshold=limit,
            )


def release(
    session: Session,
    actor: Principal,
    *,
    permission: Permission,
    report: str,
    scope: str,
    kind: str,
    filters: Mapping[str, Any],
    table: Suppressed,
) -> ReportRelease:
    """Record a release of ``table`` (already suppressed) after checking it against the
    ledger. ``permission`` is the one the report page needs (its policy check)."""
    ensure(actor, permission)
    if kind not in KINDS:
        raise ValueError(f"unknown release kind {kind!r}")
    cells = table.published()
    check_release(session, scope, cells, table.threshold)
    entry = ReportRelease(
        user_id=actor.user_id, report=report, scope=scope, kind=kind,
        filters=dict(filters), threshold=table.threshold, table_hash=table_hash(cells), cells=cells,
    )  # fmt: skip
    session.add(entry)
    session.flush()
    audit.record(
        session, AuditAction.REPORT_RELEASE, object_type="report_release", object_id=entry.id,
        fields=["counts"],
        detail={"report": report, "scope": scope, "kind": kind, "hash": entry.table_hash},
    )  # fmt: skip
    return entry


def releases(session: Session, scope: str) -> list[ReportRelease]:
    return list(
        session.scalars(
            select(ReportRelease)
            .where(ReportRelease.scope == scope)
            .order_by(ReportRelease.created_at)
        )
    )
