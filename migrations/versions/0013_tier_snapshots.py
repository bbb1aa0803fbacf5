"""tier_snapshots: monthly tier counts, coverage tallies and named-list exports (issue 16)

Revision ID: 0013
Revises: 0012

``tier_snapshot``: the enrolled students at each tier per school and grade, one set of rows per
month ("YYYY-MM"), kept by the monthly job so that the tiers report's history does not change
when students move. ``coverage_tally``: a campaign's screening coverage per school and grade,
counted by a job, which the district view of the coverage report reads. ``report_named_export``:
each download of a report's list of names (the unscreened students) with its encrypted reason,
which the audit entry points to. Two covering indexes for the coverage report: a student's
placement with its id; a response's campaign, student and flags.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wellbeing.core.fields
import wellbeing.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tier_snapshot",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("grade", sa.SmallInteger(), nullable=False),
        sa.Column("tier", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("taken_at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["school.id"], name=op.f("fk_tier_snapshot_school_id_school")
        ),
        sa.PrimaryKeyConstraint(
            "month", "school_id", "grade", "tier", name=op.f("pk_tier_snapshot")
        ),
    )
    op.create_table(
        "report_named_export",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("report", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("reason_ct", wellbeing.core.fields.EncryptedBlob(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_report_named_export_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["school.id"], name=op.f("fk_report_named_export_school_id_school")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["screening_campaign.id"],
            name=op.f("fk_report_named_export_campaign_id_screening_campaign"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_named_export")),
    )
    op.create_index(
        "ix_report_named_export_school_created", "report_named_export",
        ["school_id", "created_at"], unique=False,
    )  # fmt: skip

    op.create_table(
        "coverage_tally",
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("grade", sa.SmallInteger(), nullable=False),
        sa.Column("screened", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("voided", sa.Integer(), nullable=False),
        sa.Column("incomplete", sa.Integer(), nullable=False),
        sa.Column("taken_at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["screening_campaign.id"],
            name=op.f("fk_coverage_tally_campaign_id_screening_campaign"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["school.id"], name=op.f("fk_coverage_tally_school_id_school")
        ),
        sa.PrimaryKeyConstraint(
            "campaign_id", "school_id", "grade", name=op.f("pk_coverage_tally")
        ),
    )
    # The screening coverage report reads these alone (covering), on both backends.
    op.create_index(
        "ix_student_status_school_grade_class", "student",
        ["status", "school_id", "grade", "class_id", "id"], unique=False,
    )  # fmt: skip
    op.create_index(
        "ix_screening_response_coverage", "screening_response",
        ["campaign_id", "student_id", "voided", "incomplete"], unique=False,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_screening_response_coverage", table_name="screening_response")
    op.drop_index("ix_student_status_school_grade_class", table_name="student")
    op.drop_index("ix_report_named_export_school_created", table_name="report_named_export")
    op.drop_table("coverage_tally")
    op.drop_table("report_named_export")
    op.drop_table("tier_snapshot")
