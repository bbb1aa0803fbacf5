"""plans: the plan (一生一策), its versions and sign-offs, and the tasks it gives to adults

Revision ID: 0006
Revises: 0005

Issue 14, items 1-4. ``plan`` is one student's plan over its life (one open plan per student:
a partial unique index); ``plan_version`` and ``plan_signoff`` are append-only history;
``plan_task`` holds what adults are to do, by when. Every text is encrypted (``*_ct``). The
CHECK lists are written out here, not imported from the models: a migration keeps meaning what
it meant when it was written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wellbeing.core.fields
import wellbeing.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("proposed_tier", sa.SmallInteger(), nullable=True),
        sa.Column("proposal_due", sa.Date(), nullable=True),
        sa.Column("latest_version", sa.SmallInteger(), nullable=False),
        sa.Column("effective_version", sa.SmallInteger(), nullable=True),
        sa.Column("review_due", sa.Date(), nullable=True),
        sa.Column("review_alerted_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("draft_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.Column("draft_by", sa.Uuid(), nullable=True),
        sa.Column("draft_updated_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("draft_writers", sa.JSON(), nullable=True),
        sa.Column("close_reason_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.CheckConstraint(
            "state IN ('proposed', 'draft', 'submitted', 'active', 'review', 'closed', 'cancelled')",
            name=op.f("ck_plan_state_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_plan_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["draft_by"], ["user_account.id"], name=op.f("fk_plan_draft_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["school.id"], name=op.f("fk_plan_school_id_school")
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["student.id"], name=op.f("fk_plan_student_id_student")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan")),
    )
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.create_index(
            "ix_plan_school_state_review", ["school_id", "state", "review_due"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_plan_student_id"), ["student_id"], unique=False)
        batch_op.create_index(
            "uq_plan_open_student",
            ["student_id"],
            unique=True,
            sqlite_where=sa.text("state NOT IN ('closed', 'cancelled')"),
            postgresql_where=sa.text("state NOT IN ('closed', 'cancelled')"),
        )

    op.create_table(
        "plan_task",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=True),
        sa.Column("version_number", sa.SmallInteger(), nullable=True),
        sa.Column("key", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("done_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.Uuid(), nullable=True),
        sa.Column("title_ct", wellbeing.core.fields.EncryptedBlob(), nullable=False),
        sa.Column("external_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.Column("done_note_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('plan_action', 'write_plan', 'review_plan', 'update_plan')",
            name=op.f("ck_plan_task_kind_valid"),
        ),
        sa.CheckConstraint(
            "state IN ('open', 'done', 'cancelled')", name=op.f("ck_plan_task_state_valid")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["user_account.id"], name=op.f("fk_plan_task_assignee_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_plan_task_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["done_by"], ["user_account.id"], name=op.f("fk_plan_task_done_by_user_account")
        ),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.id"], name=op.f("fk_plan_task_plan_id_plan")),
        sa.ForeignKeyConstraint(
            ["school_id"], ["school.id"], name=op.f("fk_plan_task_school_id_school")
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["student.id"], name=op.f("fk_plan_task_student_id_student")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_task")),
    )
    with op.batch_alter_table("plan_task", schema=None) as batch_op:
        batch_op.create_index(
            "ix_plan_task_assignee_state_due", ["assignee_id", "state", "due_date"], unique=False
        )
        batch_op.create_index(
            "ix_plan_task_creator_state_due", ["created_by", "state", "due_date"], unique=False
        )
        batch_op.create_index("ix_plan_task_plan_key", ["plan_id", "key"], unique=False)
        batch_op.create_index(
            "ix_plan_task_school_state_due", ["school_id", "state", "due_date"], unique=False
        )
        batch_op.create_index("ix_plan_task_student", ["student_id", "created_at"], unique=False)

    op.create_table(
        "plan_version",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.SmallInteger(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tier", sa.SmallInteger(), nullable=False),
        sa.Column("review_due", sa.Date(), nullable=False),
        sa.Column("material", sa.Boolean(), nullable=False),
        sa.Column("signoff_required", sa.Boolean(), nullable=False),
        sa.Column("safety_crisis_id", sa.Uuid(), nullable=True),
        sa.Column("writers", sa.JSON(), nullable=False),
        sa.Column("body_ct", wellbeing.core.fields.EncryptedBlob(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user_account.id"], name=op.f("fk_plan_version_author_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plan.id"], name=op.f("fk_plan_version_plan_id_plan")
        ),
        sa.ForeignKeyConstraint(
            ["safety_crisis_id"],
            ["crisis.id"],
            name=op.f("fk_plan_version_safety_crisis_id_crisis"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_version")),
        sa.UniqueConstraint("plan_id", "number", name=op.f("uq_plan_version_plan_id_number")),
    )
    op.create_table(
        "plan_signoff",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("by_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.CheckConstraint(
            "decision IN ('signed', 'returned')", name=op.f("ck_plan_signoff_decision_valid")
        ),
        sa.ForeignKeyConstraint(
            ["by_id"], ["user_account.id"], name=op.f("fk_plan_signoff_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plan.id"], name=op.f("fk_plan_signoff_plan_id_plan")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["plan_version.id"],
            name=op.f("fk_plan_signoff_version_id_plan_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_signoff")),
    )
    with op.batch_alter_table("plan_signoff", schema=None) as batch_op:
        batch_op.create_index("ix_plan_signoff_plan", ["plan_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("plan_signoff", schema=None) as batch_op:
        batch_op.drop_index("ix_plan_signoff_plan")

    op.drop_table("plan_signoff")
    op.drop_table("plan_version")
    with op.batch_alter_table("plan_task", schema=None) as batch_op:
        batch_op.drop_index("ix_plan_task_student")
        batch_op.drop_index("ix_plan_task_school_state_due")
        batch_op.drop_index("ix_plan_task_plan_key")
        batch_op.drop_index("ix_plan_task_creator_state_due")
        batch_op.drop_index("ix_plan_task_assignee_state_due")

    op.drop_table("plan_task")
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_plan_open_student",
            sqlite_where=sa.text("state NOT IN ('closed', 'cancelled')"),
            postgresql_where=sa.text("state NOT IN ('closed', 'cancelled')"),
        )
        batch_op.drop_index(batch_op.f("ix_plan_student_id"))
        batch_op.drop_index("ix_plan_school_state_review")

    op.drop_table("plan")
