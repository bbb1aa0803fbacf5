"""referrals: health partners and referrals (issue 15)

Revision ID: 0010
Revises: 0009

Placeholder: no schema change yet.
"""

from __future__ import annotations

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
