"""Proof that plaintext of encrypted fields never reaches the database, the logs or the audit
trail (issue 3, proof (a) and (e)).

Random canary values are written through the app's own services and pages; then the raw
database (SQLite file bytes including the WAL; ``pg_dump`` output on PostgreSQL), every log
record and every audit entry are searched for them. Modules add their writes to ``WRITERS``.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from wellbeing import create_app
from wellbeing.audit.models import AuditEntry

from .conftest import BACKENDS, login
from .factories import make_school, make_student, staff_set

pytestmark = pytest.mark.slow


def canary(prefix: str) -> str:
    """A value no real data or code contains: Chinese characters plus a random tag."""
    return f"{prefix}金丝雀{secrets.token_hex(6)}"


def _student_identity(world: dict) -> list[str]:
    values = [
        canary("名"),
        canary("号"),
        canary("监护人"),
        "13" + str(secrets.randbelow(10**9)).zfill(9),
    ]
    with world["env"].db.session() as session:
        school = session.merge(world["school"])
        make_student(session, school, name=values[0], national_id=values[1],
                     guardians=[{"name": values[2], "phone": values[3], "relation": "mother"}])  # fmt: skip
    return values[:3]


def _case_content(world: dict) -> list[str]:
    """A concern, a tier reason and a guardian contact, written as the school's staff would."""
    import datetime as dt

    from wellbeing.auth.services import build_principal
    from wellbeing.concerns.services import create_concern
    from wellbeing.crisis.services import record_guardian_contact
    from wellbeing.risk.services import apply_tier

    values = [canary("看到"), canary("理由"), canary("告知")]
    with world["env"].db.session() as session:
        school = session.merge(world["school"])
        teacher = build_principal(session, session.merge(world["users"]["class_teacher"]))
        psych = build_principal(session, session.merge(world["users"]["psych_teacher"]))
        class_id = next(
            m.class_id for m in session.merge(world["users"]["class_teacher"]).memberships
        )
        from wellbeing.orgs.models import SchoolClass

        student = make_student(session, school, session.get(SchoolClass, class_id))
        create_concern(session, teacher, student, category="mood", urgency="soon", text=values[0])
        apply_tier(session, psych, student, 2, source="manual", reason=values[1])
        record_guardian_contact(session, psych, student, relation="mother", channel="phone",
                                contacted_at=dt.datetime.now(dt.UTC), summary=values[2])  # fmt: skip
    return values


WRITERS: list[Callable[[dict], list[str]]] = [_student_identity, _case_content]


def _raw_database_text(env) -> bytes:  # type: ignore[no-untyped-def]
    url = make_url(env.settings.database_url)
    if url.get_backend_name() == "sqlite":
        env.db.dispose()
        path = Path(url.database)
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to prove the PostgreSQL dump holds no plaintext"
    result = subprocess.run(
        [pg_dump, "--data-only", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
         "-U", url.username or "postgres", url.database],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return result.stdout


@pytest.mark.parametrize("fresh_env", BACKENDS, indirect=True)
def test_no_canary_reaches_the_database_logs_or_audit(fresh_env):
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        _write_read_and_scan(fresh_env, records)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def _write_read_and_scan(fresh_env, records: list[logging.LogRecord]) -> None:  # type: ignore[no-untyped-def]
    from wellbeing.demo import seed_demo

    seed_demo(fresh_env.db, fresh_env.settings)  # every module's demo writes, then the canaries
    with fresh_env.db.session() as session:
        school = make_school(session)
        users = staff_set(session, fresh_env.settings, school)
    world = {"env": fresh_env, "school": school, "users": users}
    canaries: list[str] = []
    for writer in WRITERS:
        canaries.extend(writer(world))

    app = create_app(fresh_env.settings, db=fresh_env.db)
    client = app.test_client()
    login(client, users["psych_teacher"])
    with fresh_env.db.session() as session:
        from wellbeing.students.models import Student

        student_ids = list(session.scalars(select(Student.id)))
    for student_id in student_ids:  # reading pages must not leak either (logs, audit)
        client.get(f"/students/{student_id}")

    raw = _raw_database_text(fresh_env)
    logs = "\n".join(record.getMessage() for record in records)
    with fresh_env.db.session() as session:
        audit_text = "\n".join(
            f"{e.detail} {e.fields} {e.purpose} {e.object_id}"
            for e in session.scalars(select(AuditEntry))
        )
    assert canaries, "no canary was written"
    # The scan itself works: a plaintext column (the school's name) is found in the same bytes.
    assert school.name.encode() in raw
    for value in canaries:
        assert value.encode() not in raw, f"plaintext canary found in the raw database: {value}"
        # pg_dump prints bytea as hex: plaintext stored in a binary column would show up so
        assert value.encode().hex().encode() not in raw.lower()
        assert value not in logs
        assert value not in audit_text
