"""notes: counselling notes (辅导记录) and their addenda

Revision ID: 0004
Revises: 0003

Issue 14, item 5. A note records a counselling session or contact; its content, its
risk-assessment checklist and every addendum's text are encrypted (``*_ct`` columns). Its
state is ``draft``, ``signed`` or ``locked`` (a draft left unsigned past 24 hours); the CHECK
list is written out here, not imported from the models: a migration keeps meaning what it
meant when it was written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from wellbeing.core.fields import EncryptedBlob
from wellbeing.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counselling_note",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("session_date", sa.Date(), nullable=False),
        sa.Column("note_type", sa.String(length=12), nullable=False),
        sa.Column("duration_minutes", sa.SmallInteger(), nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("proposed_tier", sa.SmallInteger(), nullable=True),
        sa.Column("decision_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("signed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("content_ct", EncryptedBlob(), nullable=False),
        sa.Column("checklist_ct", EncryptedBlob(), nullable=True),
        sa.CheckConstraint(
            "state IN ('draft', 'signed', 'locked')", name=op.f("ck_counselling_note_state_valid")
        ),
        sa.ForeignKeyConstraint(["student_id"], ["student.id"],
                                name=op.f("fk_counselling_note_student_id_student")),
        sa.ForeignKeyConstraint(["school_id"], ["school.id"],
                                name=op.f("fk_counselling_note_school_id_school")),
        sa.ForeignKeyConstraint(["author_id"], ["user_account.id"],
                                name=op.f("fk_counselling_note_author_id_user_account")),
        sa.ForeignKeyConstraint(["decision_id"], ["tier_decision.id"],
                                name=op.f("fk_counselling_note_decision_id_tier_decision")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counselling_note")),
    )  # fmt: skip
    op.create_index("ix_counselling_note_student_date", "counselling_note",
                    ["student_id", "session_date"])  # fmt: skip
    op.create_index("ix_counselling_note_state_created", "counselling_note",
                    ["state", "created_at"])  # fmt: skip
    op.create_table(
        "note_addendum",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("note_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("text_ct", EncryptedBlob(), nullable=False),
        sa.ForeignKeyConstraint(["note_id"], ["counselling_note.id"],
                                name=op.f("fk_note_addendum_note_id_counselling_note")),
        sa.ForeignKeyConstraint(["author_id"], ["user_account.id"],
                                name=op.f("fk_note_addendum_author_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_addendum")),
    )  # fmt: skip
    op.create_index("ix_note_addendum_note_created", "note_addendum", ["note_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_note_addendum_note_created", table_name="note_addendum")
    op.drop_table("note_addendum")
    op.drop_index("ix_counselling_note_state_created", table_name="counselling_note")
    op.drop_index("ix_counselling_note_student_date", table_name="counselling_note")
    op.drop_table("counselling_note")
