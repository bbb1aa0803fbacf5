"""notes_trigger: database triggers making signed notes immutable (issue 14 items 5 and 13)
and the log of guardian copies (item 10)

Revision ID: 0009
Revises: 0008

The ORM guard of ``notes/models.py`` stops the application; these triggers stop everything else
that reaches the database (raw SQL, a console, a bulk ``UPDATE``), on PostgreSQL and SQLite:

* ``UPDATE`` of ``counselling_note`` once ``OLD.state <> 'draft'`` raises when it changes the
  content or checklist (``content_ct``, ``checklist_ct``), the session (``session_date``,
  ``note_type``, ``duration_minutes``), ``restricted``, ``proposed_tier``, ``student_id``,
  ``author_id`` or ``created_at``, or moves the state back (to ``draft``, or away from
  ``signed``). Signing a draft or a locked note, locking a draft and linking the tier decision
  (``decision_id``) stay allowed; ``school_id`` is not frozen here (a transfer may need it).
* ``UPDATE`` of ``note_addendum`` always raises.
* ``DELETE`` of ``counselling_note`` or ``note_addendum`` raises, **except during a purge**.
* PostgreSQL: ``TRUNCATE`` of either table raises (a statement trigger).

Also ``record_export``: each copy of the record made for a guardian (who asked, whether
restricted notes were included, the encrypted reason), and ``purge_lock`` below.

Purge escape (the retention purge, issue 14 item 9), the same on both backends: a row in
``purge_lock`` naming the student. In ONE transaction the purge does::

    INSERT INTO purge_lock (student_id, started_at) VALUES (:student, :now);
    DELETE FROM note_addendum WHERE note_id IN (SELECT id FROM counselling_note
                                                WHERE student_id = :student);
    DELETE FROM counselling_note WHERE student_id = :student;
    ...   -- the rest of the purge
    DELETE FROM purge_lock WHERE student_id = :student;

The row is never committed, so no other transaction ever sees it, and it opens only that
student's notes. Use SQL ``DELETE`` statements (``session.execute(delete(...))``): the ORM guard
refuses ``session.delete(note)`` whatever the triggers allow. Triggers do not hold against the
table's owner or a superuser who disables them; see SECURITY.md.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from wellbeing.core.fields import EncryptedBlob
from wellbeing.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The columns a signed or locked note never changes (written out: a migration keeps meaning
# what it meant when it was written).
FROZEN = (
    "content_ct", "checklist_ct", "session_date", "note_type", "duration_minutes", "restricted",
    "proposed_tier", "student_id", "author_id", "created_at",
)  # fmt: skip
STATE_BACK = "(NEW.state = 'draft' OR (OLD.state = 'signed' AND NEW.state <> 'signed'))"
PURGING_NOTE = "EXISTS (SELECT 1 FROM purge_lock WHERE purge_lock.student_id = OLD.student_id)"
PURGING_ADDENDUM = (
    "EXISTS (SELECT 1 FROM purge_lock JOIN counselling_note "
    "ON counselling_note.student_id = purge_lock.student_id "
    "WHERE counselling_note.id = OLD.note_id)"
)
NOTE_MESSAGE = "counselling_note is signed or locked: its content is immutable"
DELETE_MESSAGE = "counselling notes and addenda are never deleted (outside a retention purge)"
ADDENDUM_MESSAGE = "note_addendum is append-only"

PG_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION counselling_note_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION '{DELETE_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF {PURGING_NOTE} THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION '{DELETE_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.state <> 'draft' AND ({" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN)}
                                OR {STATE_BACK}) THEN
        RAISE EXCEPTION '{NOTE_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
CREATE OR REPLACE FUNCTION note_addendum_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF {PURGING_ADDENDUM} THEN
            RETURN OLD;
        END IF;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION '{ADDENDUM_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION '{DELETE_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
END;
$$
"""

PG_TRIGGERS = (
    "CREATE TRIGGER counselling_note_immutable BEFORE UPDATE OR DELETE ON counselling_note "
    "FOR EACH ROW EXECUTE FUNCTION counselling_note_immutable()",
    "CREATE TRIGGER counselling_note_no_truncate BEFORE TRUNCATE ON counselling_note "
    "FOR EACH STATEMENT EXECUTE FUNCTION counselling_note_immutable()",
    "CREATE TRIGGER note_addendum_append_only BEFORE UPDATE OR DELETE ON note_addendum "
    "FOR EACH ROW EXECUTE FUNCTION note_addendum_append_only()",
    "CREATE TRIGGER note_addendum_no_truncate BEFORE TRUNCATE ON note_addendum "
    "FOR EACH STATEMENT EXECUTE FUNCTION note_addendum_append_only()",
)

SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER counselling_note_immutable BEFORE UPDATE ON counselling_note
    FOR EACH ROW WHEN OLD.state <> 'draft' AND (
        {" OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)} OR {STATE_BACK})
    BEGIN SELECT RAISE(ABORT, '{NOTE_MESSAGE}'); END""",
    f"""CREATE TRIGGER counselling_note_no_delete BEFORE DELETE ON counselling_note
    FOR EACH ROW WHEN NOT {PURGING_NOTE}
    BEGIN SELECT RAISE(ABORT, '{DELETE_MESSAGE}'); END""",
    f"""CREATE TRIGGER note_addendum_no_update BEFORE UPDATE ON note_addendum
    FOR EACH ROW BEGIN SELECT RAISE(ABORT, '{ADDENDUM_MESSAGE}'); END""",
    f"""CREATE TRIGGER note_addendum_no_delete BEFORE DELETE ON note_addendum
    FOR EACH ROW WHEN NOT {PURGING_ADDENDUM}
    BEGIN SELECT RAISE(ABORT, '{DELETE_MESSAGE}'); END""",
)
SQLITE_NAMES = (
    "counselling_note_immutable", "counselling_note_no_delete", "note_addendum_no_update",
    "note_addendum_no_delete",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "record_export",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=False),
        sa.Column("requester", sa.String(length=20), nullable=False),
        sa.Column("include_restricted", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason_ct", EncryptedBlob(), nullable=True),
        sa.ForeignKeyConstraint(["student_id"], ["student.id"],
                                name=op.f("fk_record_export_student_id_student")),
        sa.ForeignKeyConstraint(["school_id"], ["school.id"],
                                name=op.f("fk_record_export_school_id_school")),
        sa.ForeignKeyConstraint(["actor_id"], ["user_account.id"],
                                name=op.f("fk_record_export_actor_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_export")),
    )  # fmt: skip
    op.create_index("ix_record_export_student_created", "record_export",
                    ["student_id", "created_at"])  # fmt: skip
    op.create_table(
        "purge_lock",
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("student_id", name=op.f("pk_purge_lock")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTIONS)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, name in (
            ("note_addendum", "note_addendum_no_truncate"),
            ("note_addendum", "note_addendum_append_only"),
            ("counselling_note", "counselling_note_no_truncate"),
            ("counselling_note", "counselling_note_immutable"),
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS note_addendum_append_only()")
        op.execute("DROP FUNCTION IF EXISTS counselling_note_immutable()")
    else:
        for name in SQLITE_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("purge_lock")
    op.drop_index("ix_record_export_student_created", table_name="record_export")
    op.drop_table("record_export")
