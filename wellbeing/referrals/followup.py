"""What the partner's feedback asks of the school (issue 15 item 5): a ``REFERRAL_MOVED``
subscriber.

When a referral reaches ``feedback``, the psychology teacher who sent it (else the school's
psychology teachers' pool) gets an ``update_plan`` task (``plans.tasks.add_task``) due in
:data:`UPDATE_DAYS`, linked to the student's open plan if there is one. When the feedback
advises a return to school after treatment (复学), the open plan in effect also gets a
``review_plan`` task (the return-to-school plan review, titled so), unless one is open already.
Both run in the move's transaction (a failure rolls the feedback back) and are audited by
``add_task`` (``TASK_CREATE``).

Registered at import: ``record.py`` imports this module (``modules.import_services`` imports
every ``record.py``), so the subscription is in place wherever sections are.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import Membership, User
from ..core.authz import Role
from ..plans import tasks
from ..plans.models import PlanState
from ..plans.queries import open_plan
from ..screening.clock import local_today
from ..students.models import Student
from .events import REFERRAL_MOVED, ReferralMoved
from .models import Referral, ReferralState
from .queries import feedback_of

UPDATE_DAYS = 7
RETURN_REVIEW_DAYS = 3
RETURN_REVIEW_TITLE = "复学方案复评"  # stored title (pages show the task kind's label)


def _sender(session: Session, referral: Referral) -> User | None:
    """The referral's author while still an active psychology teacher of the school."""
    user = session.get(User, referral.created_by)
    if user is None or not user.active:
        return None
    still = session.scalars(
        select(Membership.id).where(Membership.user_id == user.id,
                                    Membership.role == Role.PSYCH_TEACHER,
                                    Membership.school_id == referral.school_id).limit(1)
    ).first()  # fmt: skip
    return user if still is not None else None


def on_referral_moved(session: Session, moved: ReferralMoved) -> None:
    if moved.to_state != ReferralState.FEEDBACK:
        return
    referral = session.get(Referral, moved.referral_id)
    student = session.get(Student, moved.student_id)
    if referral is None or student is None:  # pragma: no cover - foreign keys
        return
    today = local_today(moved.at)
    plan = open_plan(session, student.id)
    sender = _sender(session, referral)
    tasks.add_task(
        session, None, student=student, kind="update_plan", title="",
        due_date=today + dt.timedelta(days=UPDATE_DAYS), plan=plan,
        assignee_id=sender.id if sender is not None else None,
    )  # fmt: skip
    feedback = feedback_of(session, referral.id)
    if feedback is None or not feedback.advises_return:
        return
    if (
        plan is not None
        and plan.state == PlanState.ACTIVE
        and not tasks.open_tasks(session, plan.id, "review_plan")
    ):
        tasks.add_task(
            session, None, student=student, kind="review_plan", title=RETURN_REVIEW_TITLE,
            due_date=today + dt.timedelta(days=RETURN_REVIEW_DAYS), plan=plan,
            assignee_id=sender.id if sender is not None else None,
        )  # fmt: skip


REFERRAL_MOVED.subscribe(on_referral_moved)
