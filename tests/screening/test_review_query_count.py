"""The review queue asks the database the same number of questions whatever the number of
alerts on it (issue 17, load benchmark: it asked five per alert, ~328 statements a request at
1,000 students a school). The alerts, crises and other items linked to them are read in one
batch per kind (``alerts.links.linked_items_of``, ``alerts.services.may_handle_many``), which
must answer exactly what the one-alert forms answer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from wellbeing.alerts import links
from wellbeing.alerts import services as alert_services
from wellbeing.alerts.models import Alert
from wellbeing.auth.services import build_principal
from wellbeing.concerns import services as concerns
from wellbeing.core.authz import Role
from wellbeing.orgs.models import SchoolClass
from wellbeing.screening.services import record_answers

from ..conftest import login
from ..factories import make_student, make_user, staff_set
from .helpers import open_campaign, phq, school_with_students


def _red_critical() -> dict[str, dict[str, int | None]]:
    return {"phq9": {f"phq9_{n + 1}": v for n, v in enumerate(phq(2, item9=2))}}


def _queue(db_session: Any, env: Any, students: int) -> tuple[Any, Any, list[Any]]:
    """A school whose ``students`` students each answered the critical item: each waits in
    the review queue with a red-tier alert and the crisis it opened."""
    school, _klass, kids = school_with_students(db_session, students)
    psych = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    campaign = open_campaign(db_session, [school])
    for kid in kids:
        record_answers(db_session, None, campaign, kid, _red_critical())
    db_session.flush()
    return school, psych, kids


@contextmanager
def _statements(engine: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _review_page(client: Any, env: Any, psych: Any) -> tuple[str, int]:
    login(client, psych)
    client.get("/screening/review")  # warm: templates compiled, caches filled
    with _statements(env.db.engine) as seen:
        answer = client.get("/screening/review")
    assert answer.status_code == 200
    return answer.get_data(as_text=True), len(seen)


def test_the_review_queue_asks_as_much_for_3_alerts_as_for_12(client, db_session, env):  # type: ignore[no-untyped-def]
    _s, few_psych, few = _queue(db_session, env, 3)
    _s, many_psych, many = _queue(db_session, env, 12)
    few_html, few_count = _review_page(client, env, few_psych)
    many_html, many_count = _review_page(client, env, many_psych)
    # What is counted is on the page: each student's alert and the crisis it opened.
    assert few_html.count('data-testid="linked-alert"') == 3
    assert few_html.count('data-testid="linked-crisis"') == 3
    assert many_html.count('data-testid="linked-alert"') == 12
    assert many_html.count('data-testid="linked-crisis"') == 12
    assert all(s.name in many_html for s in many) and all(s.name in few_html for s in few)
    assert many_count == few_count


def _shown(items: list[links.LinkedItem]) -> list[tuple[object, ...]]:
    return [(i.kind, i.id, str(i.label), str(i.state), i.endpoint, dict(i.args)) for i in items]


def test_the_batch_answers_what_one_alert_answers(app, db_session, env):  # type: ignore[no-untyped-def]
    """Screening alerts with their crises, and the alert an urgent concern joined or raised,
    seen by every role, some the district centre's: the batch and the one-alert forms agree."""
    school, _psych, kids = _queue(db_session, env, 3)
    users = staff_set(db_session, env.settings, school)
    klass = db_session.get(SchoolClass, users["class_teacher"].memberships[0].class_id)
    reporter = build_principal(db_session, users["class_teacher"])
    concerns.create_concern(
        db_session, reporter, make_student(db_session, school, klass),
        category="self_harm_signs", urgency="immediate_danger", text="说想从楼上跳下去",
    )  # fmt: skip
    for kid in kids[1:]:  # two alerts that are not the district centre's (a red tier makes it so)
        kid.district_involved = False
    db_session.flush()
    alerts = list(db_session.scalars(select(Alert).where(Alert.school_id == school.id)))
    kinds_seen: set[str] = set()
    for user in users.values():
        who = build_principal(db_session, user)
        batch = links.linked_items_of(db_session, who, alerts)
        with app.test_request_context():  # the labels in words, as the page shows them
            assert {a: _shown(items) for a, items in batch.items()} == {
                a.id: _shown(links.linked_items(db_session, who, a)) for a in alerts
            }
        kinds_seen |= {item.kind for items in batch.values() for item in items}
        handled = alert_services.may_handle_many(db_session, who, alerts)
        assert handled == {a.id for a in alerts if alert_services.may_handle(db_session, who, a)}
    assert kinds_seen == {"screening", "crisis", "concern"}
    counsellor = build_principal(db_session, users["counsellor"])
    theirs = alert_services.may_handle_many(db_session, counsellor, alerts)
    assert theirs == {a.id for a in alerts if a.student_id not in {k.id for k in kids[1:]}}
    assert len(theirs) == len(alerts) - 2
