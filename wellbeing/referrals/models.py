"""Health partners, their calendars, referrals, their history, appointments and feedback.

Plaintext: ids, the partner's name, kind, district and service codes (an organisation, not a
child), SLA settings, calendar days; the referral's state, urgency and tier at submission, its
milestone times, deadline, outcome code, version, the *selection* of what is shared (``shared``:
ids of screening responses and flags, no content: see :data:`SHARED_KEYS`), the guardian-contact
row its consent rests on (an id), whether and when an override was used and by whom.
Encrypted: the partner's contact channels (people's phone numbers and e-mail addresses), both
reasons (for the partner, internal), the override's reason, every event's reason, the
appointment's place/department note, and every part of the feedback.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..core.crypto import Purpose
from ..core.fields import Encrypted, EncryptedBlob, Kind
from ..core.states import Transitions, label_states, sql_in
from ..db import Base, UTCDateTime, created_at, uuidpk

CLINICAL = Purpose.CLINICAL

# --------------------------------------------------------------------------- codes

PARTNER_KINDS = ("hospital", "clinic")
# What a partner offers (codes; the admin page ticks them).
PARTNER_SERVICES = (
    "outpatient", "inpatient", "emergency", "assessment", "psychotherapy", "medication",
    "family_therapy", "day_programme",
)  # fmt: skip
URGENCIES = ("routine", "soon", "urgent")
OUTCOMES = (
    "treated", "in_treatment", "no_treatment_needed", "did_not_attend", "no_partner",
    "other",
)  # fmt: skip
# The keys of ``Referral.shared`` (the minimum-dataset choices, plaintext: ids and flags only).
SHARED_KEYS = ("responses", "answers", "guardian")
# Defaults of a new partner's SLAs (DESIGN.md §4; the admin changes them per partner).
DEFAULT_ACK_WORKING_DAYS = 2
DEFAULT_RED_ACK_HOURS = 4
DEFAULT_APPOINTMENT_WORKING_DAYS = 5
DEFAULT_FEEDBACK_WORKING_DAYS = 10
DEFAULT_ACCESS_DAYS = 30  # the partner keeps reading a closed referral this long
MAX_TEXT = 4000


class ReferralState(StrEnum):
    """draft → submitted → accepted (centre) | returned (to the school) → sent (to a partner)
    → acknowledged → scheduled → attended | missed (→ scheduled again) → feedback → closed.
    Side exits: withdrawn (sender, before the partner acknowledges), declined (partner, back to
    the centre), cancelled (consent withdrawn). A red-tier draft may go straight to sent."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    ACCEPTED = "accepted"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    DECLINED = "declined"
    SCHEDULED = "scheduled"
    ATTENDED = "attended"
    MISSED = "missed"
    FEEDBACK = "feedback"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


class Actor(StrEnum):
    """Who may make a move: the guard of each edge of :data:`MOVES`."""

    SENDER = "sender"  # a psychology teacher of the student's school
    CENTRE = "centre"  # a district counsellor of the school's district
    PARTNER = "partner"  # a liaison of the partner the referral is addressed to
    SYSTEM = "system"  # the app itself (a guardian withdrew consent)


S, A = ReferralState, Actor
# States the sender may still withdraw from (the partner has not acknowledged).
WITHDRAWABLE = (S.DRAFT, S.SUBMITTED, S.RETURNED, S.ACCEPTED, S.SENT, S.DECLINED)
TERMINAL = (S.CLOSED, S.WITHDRAWN, S.CANCELLED)

# THE table: every allowed move and who may make it. Nothing else moves a referral.
MOVES: dict[tuple[ReferralState, ReferralState], frozenset[Actor]] = {
    (S.DRAFT, S.SUBMITTED): frozenset({A.SENDER}),
    (S.DRAFT, S.SENT): frozenset({A.SENDER}),  # red tier only: straight to a partner
    (S.RETURNED, S.SUBMITTED): frozenset({A.SENDER}),
    (S.SUBMITTED, S.ACCEPTED): frozenset({A.CENTRE}),
    (S.SUBMITTED, S.RETURNED): frozenset({A.CENTRE}),
    (S.ACCEPTED, S.SENT): frozenset({A.CENTRE}),
    (S.ACCEPTED, S.RETURNED): frozenset({A.CENTRE}),
    (S.SENT, S.ACKNOWLEDGED): frozenset({A.PARTNER}),
    (S.SENT, S.DECLINED): frozenset({A.PARTNER}),
    (S.DECLINED, S.SENT): frozenset({A.CENTRE}),  # to another partner
    (S.DECLINED, S.RETURNED): frozenset({A.CENTRE}),
    (S.DECLINED, S.CLOSED): frozenset({A.CENTRE}),  # nobody can take it (outcome no_partner)
    (S.ACKNOWLEDGED, S.SCHEDULED): frozenset({A.PARTNER}),
    (S.SCHEDULED, S.ATTENDED): frozenset({A.PARTNER}),
    (S.SCHEDULED, S.MISSED): frozenset({A.PARTNER}),
    (S.MISSED, S.SCHEDULED): frozenset({A.PARTNER}),  # rescheduled
    (S.MISSED, S.CLOSED): frozenset({A.CENTRE}),  # outcome did_not_attend
    (S.ATTENDED, S.FEEDBACK): frozenset({A.PARTNER}),
    (S.FEEDBACK, S.CLOSED): frozenset({A.SENDER, A.CENTRE}),
    **{(state, S.WITHDRAWN): frozenset({A.SENDER}) for state in WITHDRAWABLE},
    **{
        (state, S.CANCELLED): frozenset({A.SYSTEM})
        for state in ReferralState
        if state not in TERMINAL and state != S.CANCELLED
    },
}


def _table() -> dict[ReferralState, set[ReferralState]]:
    table: dict[ReferralState, set[ReferralState]] = {}
    for source, target in MOVES:
        table.setdefault(source, set()).add(target)
    return table


REFERRAL_STATES = Transitions(ReferralState, _table())
label_states(
    {
        S.DRAFT: _l("Draft"),
        S.SUBMITTED: _l("Submitted to the centre"),
        S.RETURNED: _l("Returned to the school"),
        S.ACCEPTED: _l("Accepted by the centre"),
        S.SENT: _l("Sent to the partner"),
        S.ACKNOWLEDGED: _l("Acknowledged by the partner"),
        S.DECLINED: _l("Declined by the partner"),
        S.SCHEDULED: _l("Appointment scheduled"),
        S.ATTENDED: _l("Attended"),
        S.MISSED: _l("Appointment missed"),
        S.FEEDBACK: _l("Feedback received"),
        S.CLOSED: _l("Closed"),
        S.WITHDRAWN: _l("Withdrawn"),
        S.CANCELLED: _l("Cancelled: consent withdrawn"),
    }
)
# States in which the addressed partner sees the referral (with consent or an override).
PARTNER_STATES = (S.SENT, S.ACKNOWLEDGED, S.SCHEDULED, S.ATTENDED, S.MISSED, S.FEEDBACK, S.CLOSED)
OPEN_STATES = tuple(s for s in ReferralState if s not in TERMINAL)

ACTOR_LABELS = {
    A.SENDER: _l("Psychology teacher of the school"),
    A.CENTRE: _l("District counselling centre"),
    A.PARTNER: _l("Health partner"),
    A.SYSTEM: _l("The system"),
}
PARTNER_KIND_LABELS = {"hospital": _l("Hospital"), "clinic": _l("Clinic")}
PARTNER_SERVICE_LABELS = {
    "outpatient": _l("Outpatient consultation"),
    "inpatient": _l("Inpatient care"),
    "emergency": _l("Emergency care"),
    "assessment": _l("Psychological assessment"),
    "psychotherapy": _l("Psychotherapy"),
    "medication": _l("Medication"),
    "family_therapy": _l("Family therapy"),
    "day_programme": _l("Day programme"),
}
URGENCY_LABELS = {
    "routine": _l("Routine"),
    "soon": _l("Soon"),
    "urgent": _l("Urgent"),
}
OUTCOME_LABELS = {
    "treated": _l("Treated"),
    "in_treatment": _l("Continues in treatment"),
    "no_treatment_needed": _l("No treatment needed"),
    "did_not_attend": _l("Did not attend"),
    "no_partner": _l("No partner could take the referral"),
    "other": _l("Other outcome"),
}


# --------------------------------------------------------------------------- partners


class HealthPartner(Base):
    """A hospital or clinic the district refers students to (合作医疗机构)."""

    __tablename__ = "health_partner"
    __table_args__ = (
        CheckConstraint(sql_in("kind", PARTNER_KINDS), name="kind_valid"),
        Index("ix_health_partner_district_active", "district_id", "active"),
    )

    id: Mapped[uuidpk]
    district_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("district.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12))
    # [{"name": "儿童精神科", "services": ["outpatient", ...]}]: departments and their services
    departments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    ack_working_days: Mapped[int] = mapped_column(SmallInteger, default=DEFAULT_ACK_WORKING_DAYS)
    red_ack_hours: Mapped[int] = mapped_column(SmallInteger, default=DEFAULT_RED_ACK_HOURS)
    appointment_working_days: Mapped[int] = mapped_column(
        SmallInteger, default=DEFAULT_APPOINTMENT_WORKING_DAYS
    )
    feedback_working_days: Mapped[int] = mapped_column(
        SmallInteger, default=DEFAULT_FEEDBACK_WORKING_DAYS
    )
    access_days: Mapped[int] = mapped_column(SmallInteger, default=DEFAULT_ACCESS_DAYS)
    # Working hours (local time, "HH:MM"): SLAs in hours count only these.
    day_start: Mapped[str] = mapped_column(String(5), default="08:30")
    day_end: Mapped[str] = mapped_column(String(5), default="17:30")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[created_at]
    # [{"kind": "phone"|"email"|"address", "value": "...", "label": "..."}]
    contacts_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    contacts = Encrypted("contacts_ct", Kind.JSON, Purpose.IDENTITY)


class CalendarDay(Base):
    """One exception to the weekly pattern (Monday-Friday working): a public holiday on a
    weekday (``is_working_day`` false) or a 调休 make-up working day on a weekend (true). A row
    with ``partner_id`` is the partner's own; without, the district's (every partner's, unless
    the partner has its own row for that date)."""

    __tablename__ = "referral_calendar_day"
    __table_args__ = (
        UniqueConstraint("district_id", "partner_id", "day"),
        Index("ix_referral_calendar_day_day", "day"),
    )

    id: Mapped[uuidpk]
    district_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("district.id"))
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("health_partner.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    is_working_day: Mapped[bool] = mapped_column(Boolean)
    label: Mapped[str] = mapped_column(String(60), default="")  # e.g. 春节 (not about a child)
    created_at: Mapped[created_at]


# --------------------------------------------------------------------------- referrals


class Referral(Base):
    __tablename__ = "referral"
    __table_args__ = (
        REFERRAL_STATES.check("state"),
        CheckConstraint(sql_in("urgency", URGENCIES), name="urgency_valid"),
        CheckConstraint(f"outcome IS NULL OR {sql_in('outcome', OUTCOMES)}", name="outcome_valid"),
        # consent OR override, never both recorded as the basis (an override is not consent)
        CheckConstraint(
            "NOT (consent_contact_id IS NOT NULL AND override_at IS NOT NULL)",
            name="basis_single",
        ),
        Index("ix_referral_state_due", "state", "due_at"),
        Index("ix_referral_student_state", "student_id", "state"),
        Index("ix_referral_partner_state", "partner_id", "state"),
        Index("ix_referral_school_state", "school_id", "state"),
    )

    id: Mapped[uuidpk]
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"))
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    district_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("district.id"))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    state: Mapped[str] = mapped_column(String(12), default=ReferralState.DRAFT)
    urgency: Mapped[str] = mapped_column(String(8), default="routine")
    tier_at_submit: Mapped[int | None] = mapped_column(SmallInteger)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("health_partner.id"))
    # Partners already tried (declined): the centre sends elsewhere. A list of ids.
    declined_by: Mapped[list[str]] = mapped_column(JSON, default=list)
    # {"responses": [response ids], "answers": bool, "guardian": relation | null}
    shared: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The basis: the guardian-contact rows of the consent entries, or an override.
    consent_contact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("guardian_contact.id"))
    sharing_contact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("guardian_contact.id"))
    override_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    override_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    direct: Mapped[bool] = mapped_column(Boolean, default=False)  # red tier, sent by the school
    created_at: Mapped[created_at]
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    appointment_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    missed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    feedback_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(24))
    # The deadline of the milestone the referral waits for (sla.py), and which one; the SLA
    # job raises one alert per (referral, milestone start) and records it here.
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    due_milestone: Mapped[str | None] = mapped_column(String(16))
    due_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sla_alerted_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The partner reads nothing after this (closed + the partner's access days; at once on a
    # cancellation or withdrawal).
    access_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Optimistic lock: every UPDATE checks and bumps it, so of two concurrent moves only one
    # writes (the other fails with ``ReferralConflict``); PostgreSQL also locks the row.
    version: Mapped[int] = mapped_column(nullable=False)
    __mapper_args__ = {"version_id_col": version}

    reason_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    reason = Encrypted("reason_ct", Kind.TEXT, CLINICAL)  # written for the partner
    internal_reason_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    internal_reason = Encrypted("internal_reason_ct", Kind.TEXT, CLINICAL)  # school and centre
    override_reason_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    override_reason = Encrypted("override_reason_ct", Kind.TEXT, CLINICAL)

    @property
    def is_open(self) -> bool:
        return self.state not in TERMINAL

    @property
    def has_basis(self) -> bool:
        """Consent recorded or an override used (never both)."""
        return self.consent_contact_id is not None or self.override_at is not None


class ReferralEvent(Base):
    """The referral's history: one row per move, append-only (who, in which role, when, why)."""

    __tablename__ = "referral_event"
    __table_args__ = (Index("ix_referral_event_referral_at", "referral_id", "at"),)

    id: Mapped[uuidpk]
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referral.id"))
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str] = mapped_column(String(12))
    by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    actor: Mapped[str] = mapped_column(String(8))  # an Actor code
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("health_partner.id"))
    reason_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    reason = Encrypted("reason_ct", Kind.TEXT, CLINICAL)


class Appointment(Base):
    """An appointment the partner scheduled (a missed one is followed by a new row)."""

    __tablename__ = "referral_appointment"
    __table_args__ = (
        Index("ix_referral_appointment_referral", "referral_id", "scheduled_for"),
        CheckConstraint(
            "attendance IS NULL OR attendance IN ('attended', 'missed')", name="attendance_valid"
        ),
    )

    id: Mapped[uuidpk]
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referral.id"))
    scheduled_for: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[created_at]
    attendance: Mapped[str | None] = mapped_column(String(8))
    recorded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    note_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    note = Encrypted("note_ct", Kind.TEXT, CLINICAL)  # department, place, what to bring


class Feedback(Base):
    """The partner's feedback to the school (one per referral)."""

    __tablename__ = "referral_feedback"

    id: Mapped[uuidpk]
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referral.id"), unique=True)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[created_at]
    # Whether the partner advises a return to school (复学): the plan review it proposes.
    advises_return: Mapped[bool] = mapped_column(Boolean, default=False)
    summary_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    summary = Encrypted("summary_ct", Kind.TEXT, CLINICAL)
    assessment_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    assessment = Encrypted("assessment_ct", Kind.TEXT, CLINICAL)
    for_school_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    for_school = Encrypted("for_school_ct", Kind.TEXT, CLINICAL)
    for_family_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    for_family = Encrypted("for_family_ct", Kind.TEXT, CLINICAL)
    next_appointment_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    next_appointment = Encrypted("next_appointment_ct", Kind.TEXT, CLINICAL)
    return_advice_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    return_advice = Encrypted("return_advice_ct", Kind.TEXT, CLINICAL)


FEEDBACK_FIELDS = (
    "summary", "assessment", "for_school", "for_family", "next_appointment", "return_advice",
)  # fmt: skip
