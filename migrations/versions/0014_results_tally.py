"""results_tally: the campaign results page as published for the district (issue 16 item 6)

Revision ID: 0014
Revises: 0013

``results_tally``: per campaign, one row per school with answers holding its published lines
(by school, grade and class; counts as text, hidden ones as "<10" or "*") and one row with no
school for the district's total line, written by the job ``reports.results_tally``; the results
page reads it for the district view instead of suppressing every class of the district live.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wellbeing.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "results_tally",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("campaign_id", sa.Uuid(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.SmallInteger(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("taken_at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["screening_campaign.id"],
            name=op.f("fk_results_tally_campaign_id_screening_campaign"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["school.id"], name=op.f("fk_results_tally_school_id_school")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_results_tally")),
    )
    op.create_index(
        "ix_results_tally_campaign_school", "results_tally", ["campaign_id", "school_id"],
        unique=False,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_results_tally_campaign_school", table_name="results_tally")
    op.drop_table("results_tally")
