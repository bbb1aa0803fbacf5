"""guardian log: consent entries on guardian contacts, CHECKs on the log's code columns

Revision ID: 0005
Revises: 0004

Issue 14 item 6: the guardian-contact log records every contact with a guardian and, on a
contact, an optional consent entry (``consent``: given / refused / withdrawn, for
``consent_purpose``: sharing with a partner / referral / screening). The log is append-only;
the consent state per (student, guardian, purpose) is derived from it (``crisis.consent``).
The relation and channel codes get the CHECK constraints they lacked; both columns were
written only through the service, which accepts exactly these codes.

Guardians' details corrected by hand need no schema: the marks (names of corrected fields)
live inside the encrypted ``student.guardians`` JSON.

The CHECK lists are written out here, not imported from the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CHECKS = {
    "relation_valid": (
        "relation IN ('mother', 'father', 'grandparent', 'other_relative', 'legal_guardian', "
        "'other')"
    ),
    "channel_valid": "channel IN ('phone', 'in_person', 'video', 'message')",
    "consent_valid": (
        "(consent IS NULL AND consent_purpose IS NULL) OR (consent IS NOT NULL AND "
        "consent_purpose IS NOT NULL AND consent IN ('given', 'refused', 'withdrawn') AND "
        "consent_purpose IN ('partner_sharing', 'referral', 'screening'))"
    ),
}
INDEX = "ix_guardian_contact_consent"


def upgrade() -> None:
    with op.batch_alter_table("guardian_contact") as batch:
        batch.add_column(sa.Column("consent_purpose", sa.String(16), nullable=True))
        batch.add_column(sa.Column("consent", sa.String(10), nullable=True))
    with op.batch_alter_table("guardian_contact") as batch:
        for name, condition in CHECKS.items():
            batch.create_check_constraint(name, condition)  # ck_guardian_contact_<name>
    op.create_index(INDEX, "guardian_contact", ["student_id", "consent_purpose", "contacted_at"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="guardian_contact")
    with op.batch_alter_table("guardian_contact") as batch:
        for name in CHECKS:
            batch.drop_constraint(op.f(f"ck_guardian_contact_{name}"), type_="check")
    with op.batch_alter_table("guardian_contact") as batch:
        batch.drop_column("consent")
        batch.drop_column("consent_purpose")
