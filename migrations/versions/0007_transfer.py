"""transfer: student transfer (issue 14 item 8), owned by the transfer helper

Revision ID: 0007
Revises: 0006

Placeholder: no schema change yet.
"""

from __future__ import annotations

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
