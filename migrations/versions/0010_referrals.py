"""referrals: health partners, their calendars, referrals, their history, appointments, feedback

Revision ID: 0010
Revises: 0009

Issue 15, items 1-3 and 6. ``health_partner`` (contact channels encrypted), its working
calendar exceptions (``referral_calendar_day``: holidays and 调休 make-up days, per district or
per partner), ``referral`` (state CHECK, reasons and override reason encrypted, ``version`` for
optimistic locking), ``referral_event`` (append-only history), ``referral_appointment`` and
``referral_feedback`` (texts encrypted); and the foreign key from a liaison's membership to
their partner. The CHECK lists are written out here, not imported from the models: a migration
keeps meaning what it meant when it was written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wellbeing.core.fields
import wellbeing.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "health_partner",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("ack_working_days", sa.SmallInteger(), nullable=False),
        sa.Column("red_ack_hours", sa.SmallInteger(), nullable=False),
        sa.Column("appointment_working_days", sa.SmallInteger(), nullable=False),
        sa.Column("feedback_working_days", sa.SmallInteger(), nullable=False),
        sa.Column("access_days", sa.SmallInteger(), nullable=False),
        sa.Column("day_start", sa.String(length=5), nullable=False),
        sa.Column("day_end", sa.String(length=5), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("contacts_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('hospital', 'clinic')", name=op.f("ck_health_partner_kind_valid")
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["district.id"], name=op.f("fk_health_partner_district_id_district")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_partner")),
    )
    op.create_index(
        "ix_health_partner_district_active",
        "health_partner",
        ["district_id", "active"],
        unique=False,
    )
    op.create_table(
        "referral_calendar_day",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_working_day", sa.Boolean(), nullable=False),
        sa.Column("label", sa.String(length=60), nullable=False),
        sa.Column("created_at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["district.id"],
            name=op.f("fk_referral_calendar_day_district_id_district"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["health_partner.id"],
            name=op.f("fk_referral_calendar_day_partner_id_health_partner"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_calendar_day")),
        sa.UniqueConstraint(
            "district_id",
            "partner_id",
            "day",
            name=op.f("uq_referral_calendar_day_district_id_partner_id_day"),
        ),
    )
    op.create_index("ix_referral_calendar_day_day", "referral_calendar_day", ["day"], unique=False)
    op.create_table(
        "referral",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("district_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("urgency", sa.String(length=8), nullable=False),
        sa.Column("tier_at_submit", sa.SmallInteger(), nullable=True),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("declined_by", sa.JSON(), nullable=False),
        sa.Column("shared", sa.JSON(), nullable=False),
        sa.Column("consent_contact_id", sa.Uuid(), nullable=True),
        sa.Column("sharing_contact_id", sa.Uuid(), nullable=True),
        sa.Column("override_by", sa.Uuid(), nullable=True),
        sa.Column("override_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("direct", sa.Boolean(), nullable=False),
        sa.Column("created_at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("appointment_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attended_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("missed_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("feedback_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("due_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_milestone", sa.String(length=16), nullable=True),
        sa.Column("due_since", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sla_alerted_since", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("access_expires_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.Column("internal_reason_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.Column("override_reason_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('treated', 'in_treatment', 'no_treatment_needed', 'did_not_attend', 'no_partner', 'other')",
            name=op.f("ck_referral_outcome_valid"),
        ),
        sa.CheckConstraint(
            "state IN ('draft', 'submitted', 'returned', 'accepted', 'sent', 'acknowledged', 'declined', 'scheduled', 'attended', 'missed', 'feedback', 'closed', 'withdrawn', 'cancelled')",
            name=op.f("ck_referral_state_valid"),
        ),
        sa.CheckConstraint(
            "urgency IN ('routine', 'soon', 'urgent')", name=op.f("ck_referral_urgency_valid")
        ),
        sa.CheckConstraint(
            "NOT (consent_contact_id IS NOT NULL AND override_at IS NOT NULL)",
            name=op.f("ck_referral_basis_single"),
        ),
        sa.ForeignKeyConstraint(
            ["consent_contact_id"],
            ["guardian_contact.id"],
            name=op.f("fk_referral_consent_contact_id_guardian_contact"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_referral_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["district.id"], name=op.f("fk_referral_district_id_district")
        ),
        sa.ForeignKeyConstraint(
            ["override_by"], ["user_account.id"], name=op.f("fk_referral_override_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["health_partner.id"],
            name=op.f("fk_referral_partner_id_health_partner"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["school.id"], name=op.f("fk_referral_school_id_school")
        ),
        sa.ForeignKeyConstraint(
            ["sharing_contact_id"],
            ["guardian_contact.id"],
            name=op.f("fk_referral_sharing_contact_id_guardian_contact"),
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["student.id"], name=op.f("fk_referral_student_id_student")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral")),
    )
    op.create_index("ix_referral_partner_state", "referral", ["partner_id", "state"], unique=False)
    op.create_index("ix_referral_school_state", "referral", ["school_id", "state"], unique=False)
    op.create_index("ix_referral_state_due", "referral", ["state", "due_at"], unique=False)
    op.create_index("ix_referral_student_state", "referral", ["student_id", "state"], unique=False)
    op.create_table(
        "referral_appointment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("scheduled_for", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attendance", sa.String(length=8), nullable=True),
        sa.Column("recorded_at", wellbeing.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.CheckConstraint(
            "attendance IS NULL OR attendance IN ('attended', 'missed')",
            name=op.f("ck_referral_appointment_attendance_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_referral_appointment_created_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral.id"],
            name=op.f("fk_referral_appointment_referral_id_referral"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_appointment")),
    )
    op.create_index(
        "ix_referral_appointment_referral",
        "referral_appointment",
        ["referral_id", "scheduled_for"],
        unique=False,
    )
    op.create_table(
        "referral_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("from_state", sa.String(length=12), nullable=True),
        sa.Column("to_state", sa.String(length=12), nullable=False),
        sa.Column("by_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(length=8), nullable=False),
        sa.Column("at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("reason_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_id"], ["user_account.id"], name=op.f("fk_referral_event_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["health_partner.id"],
            name=op.f("fk_referral_event_partner_id_health_partner"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_referral_event_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_event")),
    )
    op.create_index(
        "ix_referral_event_referral_at", "referral_event", ["referral_id", "at"], unique=False
    )
    op.create_table(
        "referral_feedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", wellbeing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("advises_return", sa.Boolean(), nullable=False),
        sa.Column("summary_ct", wellbeing.core.fields.EncryptedBlob(), nullable=False),
        sa.Column("assessment_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.Column("for_school_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.Column("for_family_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.Column("next_appointment_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.Column("return_advice_ct", wellbeing.core.fields.EncryptedBlob(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_referral_feedback_author_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_referral_feedback_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_feedback")),
        sa.UniqueConstraint("referral_id", name=op.f("uq_referral_feedback_referral_id")),
    )
    with op.batch_alter_table("membership") as batch:
        batch.create_foreign_key(
            op.f("fk_membership_partner_id_health_partner"),
            "health_partner",
            ["partner_id"],
            ["id"],
        )


def downgrade() -> None:
    # The links go with the partners (SQLite keeps an unnamed reflected foreign key through
    # the batch rebuild; NULLs satisfy it, and env.py checks every reference before commit).
    op.execute("UPDATE membership SET partner_id = NULL")
    with op.batch_alter_table("membership") as batch:
        batch.drop_constraint(op.f("fk_membership_partner_id_health_partner"), type_="foreignkey")
    for index, table in (
        ("ix_referral_appointment_referral", "referral_appointment"),
        ("ix_referral_event_referral_at", "referral_event"),
        ("ix_referral_partner_state", "referral"),
        ("ix_referral_school_state", "referral"),
        ("ix_referral_state_due", "referral"),
        ("ix_referral_student_state", "referral"),
        ("ix_referral_calendar_day_day", "referral_calendar_day"),
        ("ix_health_partner_district_active", "health_partner"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "referral_feedback",
        "referral_event",
        "referral_appointment",
        "referral",
        "referral_calendar_day",
        "health_partner",
    ):
        op.drop_table(table)
