"""audit_verify_runs: what each ``audit verify`` run covered (issue 17)

Revision ID: 0012
Revises: 0011

Columns on ``audit_verification``: the mode (``full`` or from a ``checkpoint``), the range of
sequence numbers walked, the chain MAC at its end, the seconds it took, and a MAC under the
audit key over (mode, range, head) so that a later run may start from a checkpoint inside that
range (a row added by hand has no valid tag and is ignored).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_verification") as batch:
        batch.add_column(
            sa.Column("mode", sa.String(length=10), server_default="full", nullable=False)
        )
        batch.add_column(sa.Column("from_seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("to_seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("head_mac", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("seconds", sa.Float(), nullable=True))
        batch.add_column(sa.Column("tag", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_verification") as batch:
        for name in ("tag", "seconds", "head_mac", "to_seq", "from_seq", "mode"):
            batch.drop_column(name)
