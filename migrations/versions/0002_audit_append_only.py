"""audit trail append-only on PostgreSQL

Revision ID: 0002
Revises: 0001

A trigger refuses every UPDATE and DELETE of ``audit_entry`` rows, except the sequencer's
sealing update: on a row whose ``seq`` is still NULL, setting ``seq`` and ``mac`` (both non-NULL)
and nothing else. A statement trigger refuses TRUNCATE. This holds for every role that does
not own the trigger's table or is not a superuser able to disable triggers; see SECURITY.md.
On SQLite this revision does nothing (an embedded file has no separate roles to protect from:
the HMAC chain and the signed checkpoints are what detect tampering there).
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.seq IS NULL AND NEW.seq IS NOT NULL AND NEW.mac IS NOT NULL
           AND (to_jsonb(NEW) - 'seq' - 'mac') = (to_jsonb(OLD) - 'seq' - 'mac') THEN
            RETURN NEW;  -- the sequencer sealing a committed entry
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_entry is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
        "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_entry")
    op.execute("DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry")
    op.execute("DROP FUNCTION IF EXISTS audit_entry_append_only()")
