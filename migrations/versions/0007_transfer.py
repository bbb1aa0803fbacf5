"""transfer: student transfer (issue 14 item 8), owned by the transfer helper

Revision ID: 0007
Revises: 0006

``student_transfer``: one row per move of a student to another school of the district, with
until when the sending school still reads what it wrote (``read_until``) and where the move came
from (a person on the transfer page, or a roster import). The alert kind for the receiving
school (``student_transferred_in``) needs no schema change: ``alert.kind`` has no CHECK list.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wellbeing.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "student_transfer",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("from_school_id", sa.Uuid(), nullable=False),
        sa.Column("to_school_id", sa.Uuid(), nullable=False),
        sa.Column("by_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("created_at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_until", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('manual', 'roster')", name=op.f("ck_student_transfer_source_valid")
        ),
        sa.ForeignKeyConstraint(
            ["by_id"], ["user_account.id"], name=op.f("fk_student_transfer_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["from_school_id"],
            ["school.id"],
            name=op.f("fk_student_transfer_from_school_id_school"),
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["student.id"], name=op.f("fk_student_transfer_student_id_student")
        ),
        sa.ForeignKeyConstraint(
            ["to_school_id"], ["school.id"], name=op.f("fk_student_transfer_to_school_id_school")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_student_transfer")),
    )
    with op.batch_alter_table("student_transfer", schema=None) as batch_op:
        batch_op.create_index(
            "ix_student_transfer_student_from",
            ["student_id", "from_school_id", "read_until"],
            unique=False,
        )
        batch_op.create_index(
            "ix_student_transfer_from_until", ["from_school_id", "read_until"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("student_transfer", schema=None) as batch_op:
        batch_op.drop_index("ix_student_transfer_from_until")
        batch_op.drop_index("ix_student_transfer_student_from")
    op.drop_table("student_transfer")
