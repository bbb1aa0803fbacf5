"""The plan (一生一策), its versions and sign-offs, and the tasks it gives to adults.

Plaintext: ids, student and school, states, version numbers, dates (review due, task due), the
tier when a version was saved, whether a version needed sign-off and changed materially, who
signed or returned a version and when, the crisis whose safety plan a version links, a task's
kind and assignee.
Encrypted (clinical key): the body of every version and of the working draft (concerns, summary,
protective factors, the student's view, goals, interventions, responsible adults and their
tasks, guardian involvement), a return's or closing's reason, a task's title, the name of an
outside person a task is for, and the note its assignee writes when done.

The body of a version is one encrypted JSON document (``plans.body`` validates it)::

    {"concerns": [{"id", "text", "concern_id"}], "summary", "protective_factors",
     "student_view", "student_agreed", "guardian_involvement",
     "goals": [{"id", "text", "measure", "target_date", "lifecycle", "achievement",
                "concern_ids": [...]}],
     "interventions": [{"id", "kind", "description", "frequency", "who"}],
     "adults": [{"id", "user_id", "name", "role", "tasks": [{"id", "title", "due"}]}],
     "safety_crisis_id", "review_due"}

(``safety_crisis_id``: the crisis whose safety-plan step a red student's plan links;
``review_due``: the writer's choice of the next review date, empty for the tier's default.)

Versions and sign-offs are append-only (FHIR CarePlan.replaces: version n replaces n - 1; a
sign-off is a row appended per decision, as Primero appends approvals): nothing updates or
deletes them, and the ORM guard below refuses it before the database sees it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

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
    event,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..core.crypto import Purpose
from ..core.fields import Encrypted, EncryptedBlob, Kind
from ..core.states import Transitions, label_states, sql_in
from ..db import Base, UTCDateTime, created_at, uuidpk

# Days a proposed plan has before it is due (issue 14: "due in 7 days").
PROPOSAL_DAYS = 7
GOAL_LIFECYCLE = ("proposed", "active", "completed", "cancelled")
GOAL_ACHIEVEMENT = ("in_progress", "improving", "achieved", "not_achieved", "worsening")
INTERVENTION_KINDS = (
    "individual_counselling", "group", "mentor_checkin", "family_meeting", "referral",
    "class_adjustment", "other",
)  # fmt: skip
ADULT_ROLES = ("psych_teacher", "class_teacher", "mentor", "guardian", "other")
TASK_KINDS = ("plan_action", "write_plan", "review_plan", "update_plan")
SIGNOFF_DECISIONS = ("signed", "returned")


class PlanState(StrEnum):
    """proposed (a task for the school's psychology teachers) → draft (the first version is
    being written) → submitted (waiting for sign-off) → active (a version is in effect) →
    review (a new version is being written; the signed one stays in effect) → ... → closed.
    A proposal or a first draft that is not needed is cancelled."""

    PROPOSED = "proposed"
    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACTIVE = "active"
    REVIEW = "review"
    CLOSED = "closed"
    CANCELLED = "cancelled"


PLAN_STATES = Transitions(
    PlanState,
    {
        PlanState.PROPOSED: {PlanState.DRAFT, PlanState.CANCELLED},
        # saved as a version: submitted for sign-off, or in effect at once when none is needed
        PlanState.DRAFT: {PlanState.SUBMITTED, PlanState.ACTIVE, PlanState.CANCELLED},
        # signed; or returned (to draft when nothing is in effect yet, else to review)
        PlanState.SUBMITTED: {PlanState.ACTIVE, PlanState.DRAFT, PlanState.REVIEW},
        PlanState.ACTIVE: {PlanState.REVIEW, PlanState.CLOSED},
        PlanState.REVIEW: {PlanState.SUBMITTED, PlanState.ACTIVE, PlanState.CLOSED},
    },
)
label_states(
    {
        PlanState.PROPOSED: _l("Proposed"),
        PlanState.DRAFT: _l("Being written"),
        PlanState.SUBMITTED: _l("Waiting for sign-off"),
        PlanState.ACTIVE: _l("In effect"),
        PlanState.REVIEW: _l("Under review"),
        PlanState.CLOSED: _l("Closed"),
        PlanState.CANCELLED: _l("Cancelled"),
    }
)
OPEN_PLAN_STATES = tuple(s for s in PlanState if s not in PLAN_STATES.terminal())


class Plan(Base):
    """One student's plan over its life; ``PlanVersion`` rows hold what it said when."""

    __tablename__ = "plan"
    __table_args__ = (
        PLAN_STATES.check("state"),
        # One open plan per student (closed and cancelled ones stay as history).
        Index(
            "uq_plan_open_student",
            "student_id",
            unique=True,
            sqlite_where=text("state NOT IN ('closed', 'cancelled')"),
            postgresql_where=text("state NOT IN ('closed', 'cancelled')"),
        ),
        Index("ix_plan_school_state_review", "school_id", "state", "review_due"),
    )

    id: Mapped[uuidpk]
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"), index=True)
    # The school responsible for the plan (changes when the student transfers).
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    state: Mapped[str] = mapped_column(String(10), default=PlanState.PROPOSED)
    created_at: Mapped[created_at]
    # None when the system proposed it (a tier reached orange or red).
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    proposed_tier: Mapped[int | None] = mapped_column(SmallInteger)
    proposal_due: Mapped[dt.date | None] = mapped_column(Date)
    # Versions: the newest saved, and the one in effect (signed, or needing no sign-off).
    latest_version: Mapped[int] = mapped_column(SmallInteger, default=0)
    effective_version: Mapped[int | None] = mapped_column(SmallInteger)
    # The next review date of the version in effect (the overdue-review job reads it).
    review_due: Mapped[dt.date | None] = mapped_column(Date)
    review_alerted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The working copy of the next version (same JSON as a version's body), while written.
    draft_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    draft = Encrypted("draft_ct", Kind.JSON, Purpose.CLINICAL)
    draft_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    draft_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Everyone who saved the working copy since a version last took effect (user ids, hex):
    # none of them may sign the version it becomes.
    draft_writers: Mapped[list[str] | None] = mapped_column(JSON)
    close_reason_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    close_reason = Encrypted("close_reason_ct", Kind.TEXT, Purpose.CLINICAL)


class PlanVersion(Base):
    """What the plan said as saved (append-only; number n replaces n - 1)."""

    __tablename__ = "plan_version"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[uuidpk]
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan.id"))
    number: Mapped[int] = mapped_column(SmallInteger)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[created_at]
    tier: Mapped[int] = mapped_column(SmallInteger)
    review_due: Mapped[dt.date] = mapped_column(Date)
    # Goals, interventions, responsible adults or the safety step differ from the version last
    # signed (always true for a first version).
    material: Mapped[bool] = mapped_column(Boolean)
    signoff_required: Mapped[bool] = mapped_column(Boolean)
    # The crisis whose checklist holds the safety plan this version links (never copied).
    safety_crisis_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("crisis.id"))
    # The author and everyone who wrote the draft it was saved from (user ids, hex): none of
    # them may sign it off.
    writers: Mapped[list[str]] = mapped_column(JSON)
    body_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    body = Encrypted("body_ct", Kind.JSON, Purpose.CLINICAL)


class PlanSignoff(Base):
    """A decision on a version: signed (it takes effect) or returned to its author with a
    reason. Appended, never changed; who, when, which version, in which role."""

    __tablename__ = "plan_signoff"
    __table_args__ = (
        Index("ix_plan_signoff_plan", "plan_id", "created_at"),
        CheckConstraint(sql_in("decision", SIGNOFF_DECISIONS), name="decision_valid"),
    )

    id: Mapped[uuidpk]
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan.id"))
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan_version.id"))
    decision: Mapped[str] = mapped_column(String(10))
    by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[created_at]
    reason_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    reason = Encrypted("reason_ct", Kind.TEXT, Purpose.CLINICAL)


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


TASK_STATES = Transitions(TaskState, {TaskState.OPEN: {TaskState.DONE, TaskState.CANCELLED}})
label_states(
    {TaskState.OPEN: _l("To do"), TaskState.DONE: _l("Done"), TaskState.CANCELLED: _l("Cancelled")}
)


class PlanTask(Base):
    """Something an adult is to do for a student, with a due date.

    ``plan_action``: from a responsible adult's task in the version in effect (``key`` is the
    task's id in the body, so a new version updates or cancels it). Assigned to a staff user
    (``assignee_id``), or to an outside person or guardian (``external``), which the plan's
    psychology teachers track. ``write_plan`` / ``review_plan`` / ``update_plan``: for the
    school's psychology teachers (``assignee_id`` empty: any of them may do it). ``created_by``
    is the assigner (empty when the system made it); overdue tasks show on their workbench."""

    __tablename__ = "plan_task"
    __table_args__ = (
        TASK_STATES.check("state"),
        CheckConstraint(sql_in("kind", TASK_KINDS), name="kind_valid"),
        Index("ix_plan_task_assignee_state_due", "assignee_id", "state", "due_date"),
        Index("ix_plan_task_school_state_due", "school_id", "state", "due_date"),
        Index("ix_plan_task_creator_state_due", "created_by", "state", "due_date"),
        Index("ix_plan_task_plan_key", "plan_id", "key"),
        Index("ix_plan_task_student", "student_id", "created_at"),
    )

    id: Mapped[uuidpk]
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"))
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    plan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plan.id"))
    version_number: Mapped[int | None] = mapped_column(SmallInteger)
    key: Mapped[str | None] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(12))
    state: Mapped[str] = mapped_column(String(10), default=TaskState.OPEN)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[created_at]
    due_date: Mapped[dt.date] = mapped_column(Date)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    title_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    title = Encrypted("title_ct", Kind.TEXT, Purpose.CLINICAL)
    external_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    external = Encrypted("external_ct", Kind.TEXT, Purpose.CLINICAL)
    done_note_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    done_note = Encrypted("done_note_ct", Kind.TEXT, Purpose.CLINICAL)


class PlanHistoryChanged(RuntimeError):
    """A flush would change or delete a version or a sign-off (a bug: the services only ever
    append; this is the last guard before the database)."""


@event.listens_for(Session, "before_flush")
def _guard_history(session: Session, _context: object, _instances: object) -> None:
    for obj in session.deleted:
        if isinstance(obj, PlanVersion | PlanSignoff):
            raise PlanHistoryChanged(f"{type(obj).__name__} rows are never deleted")
    for obj in session.dirty:
        if isinstance(obj, PlanVersion | PlanSignoff) and session.is_modified(obj):
            raise PlanHistoryChanged(f"{type(obj).__name__} rows are never changed")
