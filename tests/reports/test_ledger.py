"""The release ledger (issue 16 item 3): each released table is recorded, and a release that
differenced against an earlier one of the same scope would show a hidden count is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from wellbeing.auth.services import build_principal
from wellbeing.core.audit import AuditAction, AuditEntry
from wellbeing.core.authz import Forbidden, Permission
from wellbeing.reports import ledger
from wellbeing.reports.models import ReportRelease
from wellbeing.reports.suppression import suppress

from ..factories import make_school, staff_set

SCOPE = "tiers_by_school:district-1"


@pytest.fixture
def supervisor(db_session, env):  # type: ignore[no-untyped-def]
    users = staff_set(db_session, env.settings, make_school(db_session))
    return {role: build_principal(db_session, user) for role, user in users.items()}


def _release(db_session, principal, rows, **filters):  # type: ignore[no-untyped-def]
    return ledger.release(
        db_session, principal, permission=Permission.STATS_DISTRICT, report="tiers_by_school",
        scope=SCOPE, kind="export", filters=filters, table=suppress(rows, 4),
    )  # fmt: skip


NOV_10 = [
    (("s1",), [120, 30, 14, 11]),
    (("s2",), [140, 25, 12, 10]),
    (("s3",), [90, 20, 11, 4]),
]


def test_a_release_is_recorded_with_its_published_cells_and_hash(  # type: ignore[no-untyped-def]
    db_session, supervisor
) -> None:
    entry = _release(db_session, supervisor["supervisor"], NOV_10, period="2026-11-01/2026-11-10")
    stored = db_session.scalars(select(ReportRelease)).one()
    assert stored is entry and entry.kind == "export" and entry.threshold == 10
    assert entry.filters == {"period": "2026-11-01/2026-11-10"}
    assert entry.cells["s3|3"] is None  # hidden: 4
    assert entry.cells["s1|0"] == 120
    assert entry.table_hash == ledger.table_hash(entry.cells) and len(entry.table_hash) == 64
    audited = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == AuditAction.REPORT_RELEASE)
    ).one()
    assert audited.detail["hash"] == entry.table_hash


def test_the_same_table_a_few_days_later_is_refused(db_session, supervisor) -> None:  # type: ignore[no-untyped-def]
    _release(db_session, supervisor["supervisor"], NOV_10, period="2026-11-01/2026-11-10")
    # three days later two more children are red in s1: 11 -> 13 and the totals move by 2
    nov_13 = [(("s1",), [121, 30, 14, 13]), NOV_10[1], NOV_10[2]]
    with pytest.raises(ledger.ReleaseRefused) as refused:
        _release(db_session, supervisor["supervisor"], nov_13, period="2026-11-01/2026-11-13")
    assert "cannot be released" in str(refused.value) and "below 10" in str(refused.value)
    assert refused.value.status == 409
    assert len(ledger.releases(db_session, SCOPE)) == 1
    # a month later every changed count has moved by ten or more: released
    dec = [(("s1",), [140, 30, 14, 23]), NOV_10[1], NOV_10[2]]
    _release(db_session, supervisor["supervisor"], dec, period="2026-11-01/2026-12-10")
    assert len(ledger.releases(db_session, SCOPE)) == 2


def test_the_same_table_without_one_school_is_refused(db_session, supervisor) -> None:  # type: ignore[no-untyped-def]
    _release(db_session, supervisor["supervisor"], NOV_10, schools="all")
    # without s3 the red column total falls by s3's hidden 4
    with pytest.raises(ledger.ReleaseRefused):
        _release(db_session, supervisor["supervisor"], NOV_10[:2], schools="s1,s2")
    # the same table again is no difference at all
    _release(db_session, supervisor["supervisor"], NOV_10, schools="all")


def test_a_difference_is_looked_for_only_within_the_scope_and_the_policy(  # type: ignore[no-untyped-def]
    db_session, supervisor
) -> None:
    _release(db_session, supervisor["supervisor"], NOV_10)
    ledger.release(
        db_session, supervisor["supervisor"], permission=Permission.STATS_DISTRICT,
        report="tiers_by_school", scope="tiers_by_school:district-2", kind="print", filters={},
        table=suppress(NOV_10[:2], 4),
    )  # fmt: skip
    with pytest.raises(Forbidden):
        _release(db_session, supervisor["class_teacher"], NOV_10)
    with pytest.raises(ValueError):
        ledger.release(
            db_session, supervisor["supervisor"], permission=Permission.STATS_DISTRICT,
            report="r", scope="s", kind="email", filters={}, table=suppress(NOV_10, 4),
        )  # fmt: skip


def test_revealing_difference() -> None:
    assert ledger.revealing_difference({"a": 10, "b": None}, {"a": 13, "b": 2}, 10) == "a"
    assert ledger.revealing_difference({"a": 10}, {"a": 10, "c": 1}, 10) is None
    assert ledger.revealing_difference({"a": 10}, {"a": 20}, 10) is None
    assert ledger.revealing_difference({"a": None}, {"a": 3}, 10) is None
