"""student_state: student enrolment state, sealing and retention (issue 14 item 9)

Revision ID: 0008
Revises: 0007

Placeholder: no schema change yet.
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
