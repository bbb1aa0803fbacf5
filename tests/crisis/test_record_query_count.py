"""The growth record's crisis part reads every past crisis's checklist in one query (issue 17,
load benchmark: one query per crisis before), so a student with four crises costs the record
page no more statements than a student with one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import event

from wellbeing.crisis.models import STEPS, Crisis, CrisisState, CrisisStep
from wellbeing.db import utcnow

from ..conftest import login
from ..factories import make_school, make_student, staff_set


def _past_crises(db_session: Any, student: Any, done_by: Any, count: int) -> list[Crisis]:
    """``count`` closed crises of ``student``, each with its first two steps recorded."""
    crises = []
    for n in range(count):
        opened = utcnow() - dt.timedelta(days=30 * (n + 1))
        crisis = Crisis(
            student_id=student.id, school_id=student.school_id, state=CrisisState.CLOSED,
            opened_at=opened, closed_at=opened + dt.timedelta(days=3), closed_by_id=done_by.id,
            closed_tier=1,
        )  # fmt: skip
        db_session.add(crisis)
        db_session.flush()
        for k, step in enumerate(STEPS[:2]):
            db_session.add(CrisisStep(crisis_id=crisis.id, step=step, done_by_id=done_by.id,
                                      done_at=opened + dt.timedelta(hours=k + 1)))  # fmt: skip
        crises.append(crisis)
    db_session.flush()
    return crises


def _record(client: Any, engine: Any, student: Any) -> tuple[str, int]:
    client.get(f"/students/{student.id}")  # warm: templates compiled
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        answer = client.get(f"/students/{student.id}")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert answer.status_code == 200
    return answer.get_data(as_text=True), len(seen)


def test_the_record_asks_as_much_for_four_past_crises_as_for_one(client, db_session, env):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    psych = users["psych_teacher"]
    one, four = make_student(db_session, school), make_student(db_session, school)
    crises = {"one": _past_crises(db_session, one, psych, 1),
              "four": _past_crises(db_session, four, psych, 4)}  # fmt: skip
    login(client, psych)
    one_html, one_count = _record(client, env.db.engine, one)
    four_html, four_count = _record(client, env.db.engine, four)
    # Every crisis is on the page with its recorded steps (two ticks each).
    for html, found in ((one_html, crises["one"]), (four_html, crises["four"])):
        assert all(f'id="record-crisis-{c.id}"' in html for c in found)
        assert html.count('class="step-done"') == 2 * len(found)
    assert four_count == one_count
