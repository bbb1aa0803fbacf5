"""notes_trigger: database trigger making signed notes immutable (issue 14 item 5)

Revision ID: 0009
Revises: 0008

Placeholder: no schema change yet.
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
