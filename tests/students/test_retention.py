"""The retention purge: a dry run lists and deletes nothing; a purge deletes every row about
the student in every table (found from the schema), leaves one tombstone, keeps the audit chain
verifying, is idempotent and never touches another student."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from wellbeing.audit.models import AuditEntry
from wellbeing.core.audit import AuditAction
from wellbeing.core.audit_verify import verify_in_session
from wellbeing.core.jobs import JobContext
from wellbeing.db import Base
from wellbeing.risk.models import DistrictPolicy
from wellbeing.risk.policy import default_body, district_of_school, forget_policy
from wellbeing.students import enrolment, retention
from wellbeing.students.jobs import retention_purge
from wellbeing.students.models import StudentStatus

from .sealing_world import build, fill_record, pk_index, snapshot, traces

TODAY = enrolment.school_today()
LONG_AGO = TODAY.replace(year=TODAY.year - 11)


def _sealed_world(db_session, env, *, left_on=LONG_AGO, students=2):  # type: ignore[no-untyped-def]
    world = build(db_session, env.settings, students=students)
    for student in world.students:
        fill_record(db_session, world, student)
    target = world.students[0]
    enrolment.record_leaving(db_session, None, target, StudentStatus.GRADUATED, on=left_on)
    db_session.flush()
    return world, target


def test_dry_run_lists_what_would_go_and_deletes_nothing(db_session, env):
    world, target = _sealed_world(db_session, env)
    before = snapshot(db_session)
    plans = [p for p in retention.due_plans(db_session, TODAY) if p.student_id == target.id]
    assert snapshot(db_session) == before
    [plan] = plans
    assert plan.left_at == LONG_AGO and plan.due_on == retention.purge_due_on(LONG_AGO, 10)
    for table in ("student", "counselling_note", "note_addendum", "concern", "alert",
                  "alert_step", "crisis", "followup", "tier_decision", "guardian_contact",
                  "break_glass"):  # fmt: skip
        assert plan.counts.get(table, 0) >= 1, table
    assert plan.counts["student"] == 1
    assert world.students[1].id not in {p.student_id for p in plans}  # still enrolled


def test_purge_leaves_no_row_about_the_student_and_a_tombstone(db_session, env, audit_entries):
    world, target = _sealed_world(db_session, env)
    target_id, other_id, school_id = target.id, world.students[1].id, world.school.id
    assert traces(db_session, target_id)  # the record is everywhere before
    others_before = traces(db_session, other_id)
    plan = retention.purge_student(db_session, target_id, TODAY)
    assert plan is not None
    db_session.flush()
    assert traces(db_session, target_id) == {}
    assert traces(db_session, other_id) == others_before
    [tombstone] = audit_entries(AuditAction.RECORD_PURGE)
    assert tombstone.student_id == target_id and tombstone.school_id == school_id
    assert tombstone.detail["deleted"] == plan.counts and plan.counts["student"] == 1
    assert tombstone.detail["left_at"] == LONG_AGO.isoformat()
    assert tombstone.detail["retention_years"] == 10 and tombstone.detail["policy_version"] == 0
    # the audit trail is untouched and still verifies
    named = db_session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.student_id == target_id)
    )
    assert named >= 5
    result = verify_in_session(db_session)
    assert result.ok, result.message


def test_the_audit_trail_names_the_student_by_id_only(db_session, env):
    _world, target = _sealed_world(db_session, env)
    secrets = [target.name, target.student_number]
    rows = db_session.scalars(select(AuditEntry).where(AuditEntry.student_id == target.id))
    for entry in rows:
        text = json.dumps([entry.detail, entry.fields, entry.object_id], ensure_ascii=False)
        assert not any(secret in text for secret in secrets), entry.action


def test_purge_is_idempotent_and_only_when_due(db_session, env, audit_entries):
    world, target = _sealed_world(db_session, env, left_on=TODAY - dt.timedelta(days=30))
    with pytest.raises(retention.PurgeError):  # kept for ten years
        retention.purge_student(db_session, target.id, TODAY)
    with pytest.raises(retention.PurgeError):  # enrolled: never purged
        retention.purge_student(db_session, world.students[1].id, TODAY)
    later = TODAY.replace(year=TODAY.year + 10)
    assert retention.purge_student(db_session, target.id, later) is not None
    assert retention.purge_student(db_session, target.id, later) is None
    assert len(audit_entries(AuditAction.RECORD_PURGE)) == 1


def test_only_the_purged_rows_change(db_session, env):
    _world, target = _sealed_world(db_session, env, students=3)
    found = retention.collect_rows(db_session, target.id)
    before = snapshot(db_session)
    retention.purge_student(db_session, target.id, TODAY)
    after = snapshot(db_session)
    for table, rows in before.items():
        gone = found.rows.get(table, set())
        expected = {r for r in rows if r[pk_index(table)] not in gone}
        assert after[table] == expected, table


def test_the_district_policy_sets_the_period_and_is_named_in_the_tombstone(
    db_session, env, audit_entries
):
    world, target = _sealed_world(db_session, env, left_on=TODAY.replace(year=TODAY.year - 3))
    body = default_body()
    body["records"] = {"retention_years": 2}
    district_id = district_of_school(db_session, world.school.id)
    admin = world.users["admin"]
    db_session.add(
        DistrictPolicy(district_id=district_id, version=1, body=body, created_by=admin.id)
    )
    db_session.flush()
    forget_policy(db_session)
    rule = retention.retention_rule(db_session, target)
    assert (rule.years, rule.policy_version, rule.set_by) == (2, 1, admin.id)
    retention.purge_student(db_session, target.id, TODAY)
    [tombstone] = audit_entries(AuditAction.RECORD_PURGE)
    assert tombstone.detail["policy_set_by"] == str(admin.id)
    assert tombstone.detail["retention_years"] == 2


def test_the_scheduled_job_purges_what_is_due(db_session, env, app):
    world, target = _sealed_world(db_session, env)
    target_id, other_id = target.id, world.students[1].id
    now = dt.datetime.now(dt.UTC)
    with app.app_context():
        purged = retention_purge(JobContext(db=env.db, settings=env.settings, now=now))
    assert purged >= 1
    db_session.expire_all()
    assert traces(db_session, target_id) == {}
    assert traces(db_session, other_id)


def test_every_id_column_without_a_foreign_key_is_classified():
    """A new id column that names rows without a foreign key must say what the purge does
    with it: follow it (SOFT_REFERENCES), edit it (ID_LISTS) or nothing (NOT_STUDENT_DATA)."""
    known = set(retention.SOFT_REFERENCES) | set(retention.NOT_STUDENT_DATA)
    unclassified = sorted(
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        if table.name not in retention.AUDIT_TABLES
        for column in table.columns
        if type(column.type).__name__ == "Uuid" and not column.foreign_keys
        and not column.primary_key and (table.name, column.name) not in known
    )  # fmt: skip
    assert unclassified == []
    for table, columns in retention.ID_LISTS.items():
        assert set(columns) <= set(Base.metadata.tables[table].columns.keys())


def test_the_cli_records_leavers_lists_a_dry_run_and_purges(fresh_env):
    from click.testing import CliRunner

    from wellbeing.cli import main
    from wellbeing.core import crypto

    from ..factories import make_school, make_student

    with fresh_env.db.session() as session:
        school = make_school(session, code="NO9")
        ids = [make_student(session, school, student_number=f"N{i}").id for i in range(2)]
    env_vars = {
        "WELLBEING_DATABASE_URL": fresh_env.settings.database_url,
        "WELLBEING_KEY_FILE": str(fresh_env.key_file),
    }

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), env=env_vars)
        crypto.install_keyring(fresh_env.keyring)  # the command uninstalls its keyring
        assert result.exit_code == 0, result.output
        return result.output

    left = LONG_AGO.isoformat()
    out = run("students", "leave", "N0", "N7", "--school", "NO9", "--status", "left",
              "--date", left)  # fmt: skip
    assert "sealed: 1" in out and "not found: 1" in out
    dry = run("students", "purge", "--dry-run")
    assert str(ids[0]) in dry and "student=1" in dry and "nothing was deleted" in dry
    assert str(ids[1]) not in dry
    with fresh_env.db.session() as session:
        assert traces(session, ids[0])  # still there after the dry run
    assert "purged 1 record(s)" in run("students", "purge")
    with fresh_env.db.session() as session:
        assert traces(session, ids[0]) == {}
        assert traces(session, ids[1])
        tombstones = session.scalars(
            select(AuditEntry).where(AuditEntry.action == str(AuditAction.RECORD_PURGE))
        ).all()
        assert [t.student_id for t in tombstones] == [ids[0]]
    run("audit", "verify")  # exits 3 when the chain is broken


def test_a_kiosk_session_of_several_students_loses_only_the_purged_id(db_session, env):
    from wellbeing.screening.models import Campaign, KioskSession

    world, target = _sealed_world(db_session, env, students=2)
    other = world.students[1]
    district_id = district_of_school(db_session, world.school.id)
    campaign = Campaign(district_id=district_id, school_id=world.school.id, name="春季筛查",
                        instruments=["phq9"], grades=[7], opens_on=TODAY, closes_on=TODAY)  # fmt: skip
    db_session.add(campaign)
    db_session.flush()
    ids = [str(target.id), str(other.id)]
    kiosk = KioskSession(
        token_digest="d" * 64, campaign_id=campaign.id, school_id=world.school.id,
        student_ids=ids, done_ids=ids, held_ids=[str(target.id)],
        opened_by=world.users["psych_teacher"].id,
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30),
    )  # fmt: skip
    db_session.add(kiosk)
    db_session.flush()
    plan = retention.purge_student(db_session, target.id, TODAY)
    assert plan is not None and plan.id_lists == {"screening_kiosk": 1}
    assert (kiosk.student_ids, kiosk.done_ids, kiosk.held_ids) == ([ids[1]], [ids[1]], [])
    assert "screening_kiosk" not in traces(db_session, target.id)
