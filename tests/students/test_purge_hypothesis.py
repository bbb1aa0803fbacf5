"""Hypothesis: random worlds of several students with random records; purging one of them
deletes exactly the rows collected for it, leaves every other row byte-identical, no trace of
it anywhere, and a second purge changes nothing."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wellbeing.students import enrolment, retention
from wellbeing.students.models import StudentStatus

from .sealing_world import build, fill_record, pk_index, snapshot, traces

TODAY = enrolment.school_today()
PARTS = ("red", "note", "concern", "contact", "grant")
RECORDS = st.lists(st.fixed_dictionaries({p: st.booleans() for p in PARTS}), min_size=2,
                   max_size=4)  # fmt: skip


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=RECORDS, pick=st.integers(min_value=0, max_value=3),
       also_sealed=st.booleans())  # fmt: skip
def test_purging_one_student_touches_no_other(db_session, env, records, pick, also_sealed):
    world = build(db_session, env.settings, students=len(records))
    for student, parts in zip(world.students, records, strict=True):
        fill_record(db_session, world, student, **parts)
    target = world.students[pick % len(records)]
    target_id = target.id
    others = [s.id for s in world.students if s.id != target_id]
    left_on = TODAY.replace(year=TODAY.year - 12)
    enrolment.record_leaving(db_session, None, target, StudentStatus.LEFT, on=left_on)
    if also_sealed:  # another sealed student, not yet due: kept
        other = next(s for s in world.students if s.id != target_id)
        enrolment.record_leaving(db_session, None, other, StudentStatus.GRADUATED)
    db_session.flush()
    found = retention.collect_rows(db_session, target_id)
    before = snapshot(db_session)
    others_traces = {sid: traces(db_session, sid) for sid in others}
    assert retention.purge_student(db_session, target_id, TODAY) is not None
    after = snapshot(db_session)
    for table, rows in before.items():
        gone = found.rows.get(table, set())
        assert after[table] == {r for r in rows if r[pk_index(table)] not in gone}, table
    assert traces(db_session, target_id) == {}
    assert {sid: traces(db_session, sid) for sid in others} == others_traces
    assert retention.purge_student(db_session, target_id, TODAY) is None
    assert snapshot(db_session) == after
