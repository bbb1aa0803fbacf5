"""release_ledger: the ledger of published report tables (issue 16)

Revision ID: 0011
Revises: 0010

One table, ``report_release``: who released which report table, with which filters, the
hash of the published table and its published cells (hidden ones null), so that a release
differenced against an earlier one of the same scope cannot give a hidden number back.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wellbeing.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_release",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("report", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("threshold", sa.SmallInteger(), nullable=False),
        sa.Column("table_hash", sa.String(length=64), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_report_release_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_release")),
    )
    op.create_index(
        "ix_report_release_scope_created", "report_release", ["scope", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_report_release_scope_created", table_name="report_release")
    op.drop_table("report_release")
