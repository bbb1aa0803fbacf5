"""student_state: student enrolment state, sealing and retention (issue 14 item 9)

Revision ID: 0008
Revises: 0007

``student.status`` keeps its name (lists, dashboards and the API read it) and gets the CHECK
every state column has (``ck_student_status_valid``: enrolled, left, graduated); a student who
leaves or graduates gets the date they left (``left_at``, the school's local date: the
retention period counts from it) and the time the record was sealed (``sealed_at``). Students
already marked left or graduated before this migration are sealed from now, with today as the
date they left (nothing older is known; retention then runs from today, never sooner).

On SQLite the CHECK is added by rebuilding the table; ``migrations/env.py`` runs every
migration with foreign-key enforcement off (SQLite's procedure for such changes) and checks
every reference before the commit.

The CHECK list is written out here, not imported from the models: a migration must keep
meaning what it meant when it was written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from wellbeing.db import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHECK = "status IN ('active', 'left', 'graduated')"


def upgrade() -> None:
    # Plain ADD COLUMN (nullable) on both backends: no table rebuild for these.
    op.add_column("student", sa.Column("left_at", sa.Date(), nullable=True))
    op.add_column("student", sa.Column("sealed_at", UTCDateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE student SET status = 'left' WHERE status NOT IN ('active', 'left', 'graduated')"
    )
    op.execute(
        "UPDATE student SET left_at = CURRENT_DATE, sealed_at = CURRENT_TIMESTAMP "
        "WHERE status <> 'active'"
    )
    with op.batch_alter_table("student") as batch:
        batch.create_check_constraint("status_valid", CHECK)  # ck_student_status_valid


def downgrade() -> None:
    with op.batch_alter_table("student") as batch:
        batch.drop_constraint(op.f("ck_student_status_valid"), type_="check")
    op.drop_column("student", "sealed_at")
    op.drop_column("student", "left_at")
