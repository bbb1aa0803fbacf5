"""The crisis finds its alert whichever ``TIER_CHANGED`` subscriber runs first (issue 13, B.5):
with the crisis module's handlers moved before the alerts module's, the crisis opens before the
red-tier alert is raised, and the alert, when raised, is stored on it (single and bulk paths)."""

from __future__ import annotations

import pytest
import time_machine
from sqlalchemy import select

from wellbeing.alerts.models import Alert
from wellbeing.core import events
from wellbeing.crisis.models import Crisis
from wellbeing.risk.events import TIER_CHANGED

from ..core.bulk_world import NOW, build_world, decide, per_item


@pytest.fixture
def crisis_first(monkeypatch):  # type: ignore[no-untyped-def]
    """``TIER_CHANGED``'s subscribers with the crisis module's first (restored afterwards)."""
    handlers = events._handlers[TIER_CHANGED]
    crisis = [h for h in handlers if h.__module__.startswith("wellbeing.crisis")]
    alerts = [h for h in handlers if h.__module__.startswith("wellbeing.alerts")]
    assert crisis and alerts
    reordered = crisis + [h for h in handlers if h not in crisis]
    assert reordered.index(crisis[0]) < reordered.index(alerts[0])
    monkeypatch.setitem(events._handlers, TIER_CHANGED, reordered)


def _linked(session, students):  # type: ignore[no-untyped-def]
    session.expire_all()
    out = {}
    for student in students:
        crisis = session.scalars(select(Crisis).where(Crisis.student_id == student.id)).one()
        alert = session.scalars(
            select(Alert).where(Alert.student_id == student.id, Alert.kind == "red_tier")
        ).one()
        out[student.id] = (crisis.alert_id, alert.id)
    return out


def test_single_path_links_when_the_crisis_opens_first(db_session, env, crisis_first):  # type: ignore[no-untyped-def]
    w = build_world(db_session, env.settings)
    decisions = decide(db_session, [(w.students[0], 0, 3), (w.others[0], 1, 3)])
    with time_machine.travel(NOW, tick=False):
        per_item(db_session, TIER_CHANGED.emit, decisions)
    for crisis_alert, alert in _linked(db_session, [w.students[0], w.others[0]]).values():
        assert crisis_alert == alert


def test_bulk_path_links_when_the_crises_open_first(db_session, env, crisis_first):  # type: ignore[no-untyped-def]
    w = build_world(db_session, env.settings)
    students = [*w.students[:3], *w.others[:2]]
    decisions = decide(db_session, [(s, 0, 3) for s in students])
    with time_machine.travel(NOW, tick=False):
        TIER_CHANGED.emit_many(db_session, decisions)
    linked = _linked(db_session, students)
    assert len(linked) == 5
    for crisis_alert, alert in linked.values():
        assert crisis_alert == alert


def test_a_linked_crisis_keeps_its_alert(db_session, env):  # type: ignore[no-untyped-def]
    """The usual order (alerts first): the crisis stores the alert when it opens; a later
    crisis alert about the student (a critical item) does not replace it."""
    w = build_world(db_session, env.settings)
    student = w.students[0]
    decisions = decide(db_session, [(student, 0, 3)])
    with time_machine.travel(NOW, tick=False):
        TIER_CHANGED.emit_many(db_session, decisions)
    ((crisis_alert, alert),) = _linked(db_session, [student]).values()
    assert crisis_alert == alert
    from wellbeing.alerts.services import acknowledge, raise_alert
    from wellbeing.auth.services import build_principal

    acknowledge(db_session, build_principal(db_session, w.staff["psych"]), alert)
    later = raise_alert(
        db_session, kind="urgent_concern", school_id=student.school_id, student_id=student.id
    )
    assert later.id != alert
    db_session.expire_all()
    crisis = db_session.scalars(select(Crisis).where(Crisis.student_id == student.id)).one()
    assert crisis.alert_id == alert
