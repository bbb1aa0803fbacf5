"""states: one ``state`` column per life cycle, each with a CHECK constraint; alert links

Revision ID: 0003
Revises: 0002

Issue 13: every stateful thing has a ``StrEnum`` state whose values the database enforces
(``ck_<table>_state_valid``, the values of ``wellbeing.core.states.Transitions.check``).
Columns named ``status`` become ``state`` (the values stay the same, so no data changes);
the kiosk session and the break-glass grant get a stored state, backfilled from their
timestamps. A concern and a crisis record the alert they raised or opened (``alert_id``),
so the three are shown and acknowledged together.

The CHECK lists are written out here, not imported from the models: a migration must keep
meaning what it meant when it was written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CHECKS = {
    "alert": "state IN ('open', 'acknowledged', 'resolved')",
    "concern": "state IN ('new', 'seen', 'acted')",
    "crisis": "state IN ('open', 'closed')",
    "followup": "state IN ('open', 'done', 'overdue', 'cancelled')",
    "tier_decision": "state IN ('applied', 'pending', 'rejected', 'withdrawn')",
    "screening_campaign": "state IN ('open', 'closed')",
    "screening_kiosk": "state IN ('open', 'done', 'timed_out')",
    "break_glass": "state IN ('active', 'ended', 'expired')",
}
RENAMED = {  # table: (type, indexes to rebuild: old name -> (new name, columns))
    "concern": (sa.String(12), {
        "ix_concern_school_status_created": (
            "ix_concern_school_state_created", ["school_id", "state", "created_at"]),
    }),
    "crisis": (sa.String(12), {
        "ix_crisis_status_school_opened": (
            "ix_crisis_state_school_opened", ["state", "school_id", "opened_at"]),
        "ix_crisis_student_status": ("ix_crisis_student_state", ["student_id", "state"]),
    }),
    "tier_decision": (sa.String(10), {
        "ix_tier_decision_status_school": (
            "ix_tier_decision_state_school", ["state", "school_id"]),
    }),
    "screening_campaign": (sa.String(12), {}),
}  # fmt: skip
ADDED = {  # table: (type, server default for the rows already there)
    "screening_kiosk": (sa.String(12), "open"),
    "break_glass": (sa.String(10), "active"),
}
BACKFILL = {
    "screening_kiosk": (
        "UPDATE screening_kiosk SET state = CASE WHEN closed_at IS NULL THEN 'open' "
        "WHEN closed_at >= expires_at THEN 'timed_out' ELSE 'done' END"
    ),
    # ended_at is written when a grant is ended early or by the expiry job when it runs out;
    # a grant still running (or not yet seen by the expiry job) stays active.
    "break_glass": (
        "UPDATE break_glass SET state = CASE WHEN ended_at IS NULL THEN 'active' "
        "WHEN ended_at < expires_at THEN 'ended' ELSE 'expired' END"
    ),
}
ALERT_LINKS = ("concern", "crisis")


def upgrade() -> None:
    for table, (type_, indexes) in RENAMED.items():
        for old in indexes:
            op.drop_index(old, table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "status", new_column_name="state", existing_type=type_, existing_nullable=False
            )
        for new, columns in indexes.values():
            op.create_index(new, table, columns)
    for table, (type_, default) in ADDED.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("state", type_, nullable=False, server_default=default))
        op.execute(BACKFILL[table])
        with op.batch_alter_table(table) as batch:
            batch.alter_column("state", existing_type=type_, server_default=None)
    for table in ALERT_LINKS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("alert_id", sa.Uuid(), nullable=True))
            batch.create_foreign_key(op.f(f"fk_{table}_alert_id_alert"), "alert", ["alert_id"], ["id"])
        op.create_index(f"ix_{table}_alert_id", table, ["alert_id"])
    for table, condition in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            batch.create_check_constraint("state_valid", condition)  # ck_<table>_state_valid


def downgrade() -> None:
    for table in CHECKS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_state_valid"), type_="check")
    for table in ALERT_LINKS:
        op.drop_index(f"ix_{table}_alert_id", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"fk_{table}_alert_id_alert"), type_="foreignkey")
            batch.drop_column("alert_id")
    for table in ADDED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("state")
    for table, (type_, indexes) in RENAMED.items():
        for new, _columns in indexes.values():
            op.drop_index(new, table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "state", new_column_name="status", existing_type=type_, existing_nullable=False
            )
        for old, (_new, columns) in indexes.items():
            op.create_index(old, table, [c if c != "state" else "status" for c in columns])
