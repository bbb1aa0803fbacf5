"""The district the load benchmark (bench/load_bench.py) runs against, built as the app builds it.

``build_world`` (run in a forked child by the benchmark) writes, for ``WorldSpec.students``:

1. the schools, classes and students of ``bench.synthetic.generate_district`` (bulk, encrypted);
2. staff with a known password and a second factor enrolled with a known TOTP secret (the load
   client computes the codes with pyotp): per school a psychology teacher and a school leader,
   plus district counsellors (the first on duty);
3. one district campaign (PHQ-9 + GAD-7) with results for ``coverage`` of the students, imported
   through the real path (``screening.intake.importer.import_file``): responses, tiers,
   provisional decisions for the review queue, alerts with their inboxes, crises and follow-ups,
   all raised by the app's own event subscribers;
4. open follow-ups topped up to ``followups`` (bulk rows shaped like the app's cadence ones);
5. for some orange/red students, through the services as the pages call them: concerns
   (``concerns.services.report_concern``), plans (``plans.services.start_plan``: an encrypted
   draft) and referral drafts (``referrals.services.create_draft``);
6. the audit trail topped up to ``audit_entries`` (bulk rows shaped like a record view, of real
   students, users and schools) and everything sealed by the app's sequencer
   (``audit.seal_pending``), as ``bench/audit_verify_bench.py`` fills its trail.

``WorldSpec.scaled(students)`` keeps the district's proportions (300,000 students: 200 schools,
50,000 open follow-ups, 1,000,000 audit entries), so a smoke run can use 2,000 students.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

PASSWORD = "Load-bench-staff-9"  # noqa: S105 (synthetic staff of a throw-away database)
TOTP_SECRET = "LOADBENCHLOADBENCHLOADBENCH23456"  # noqa: S105 (base32: every synthetic account enrols it)
PHQ = [f"phq9_{n}" for n in range(1, 11)]
GAD = [f"gad7_{n}" for n in range(1, 8)]
FULL = 300_000  # the district the proportions below are taken from


@dataclass(frozen=True)
class WorldSpec:
    students: int = FULL
    schools: int = 200
    followups: int = 50_000
    audit_entries: int = 1_000_000
    coverage: float = 0.95  # share of students with a screening result
    counsellors: int = 4
    concern_share: float = 0.25  # of orange/red students: a concern each
    plan_share: float = 0.15  # a draft plan
    referral_share: float = 0.05  # a draft referral
    seed: int = 11

    @classmethod
    def scaled(cls, students: int) -> WorldSpec:
        ratio = students / FULL
        return cls(
            students=students, schools=max(2, round(200 * ratio)),
            followups=round(50_000 * ratio), audit_entries=round(1_000_000 * ratio),
        )  # fmt: skip


def world_settings(url: str, key_file: Path, **overrides: Any) -> Any:
    from .common import bench_settings

    # Cheap password hashing: creating synthetic accounts and signing in are not what is measured.
    return bench_settings(url, key_file, argon2_time_cost=1, argon2_memory_kib=1024, **overrides)


def build_world(url: str, key_file: str, directory: str, spec_json: str) -> str:
    """(In a child process) migrate and fill the database; returns what was made, as JSON."""
    from wellbeing import modules, open_keyring
    from wellbeing.cli import initialise
    from wellbeing.core import audit, crypto
    from wellbeing.db import Database

    spec = WorldSpec(**json.loads(spec_json))
    settings = world_settings(url, Path(key_file))
    initialise(settings)
    modules.import_services()
    db = Database(url)
    crypto.install_keyring(open_keyring(db, settings))
    audit.set_actor(audit.Actor(username="load-world", role="system", scope="bench"))
    rng = random.Random(spec.seed)
    steps: dict[str, float] = {}

    def step(name: str, started: float) -> None:
        steps[name] = round(time.perf_counter() - started, 1)
        print(f"  world: {name} in {steps[name]:.1f} s", flush=True)

    started = time.perf_counter()
    from .synthetic import generate_district

    with db.session() as session:
        codes = generate_district(
            session, students=spec.students, schools=spec.schools, seed=spec.seed
        )
    step("district", started)
    started = time.perf_counter()
    users = _staff(db, settings, spec)
    step("staff", started)
    started = time.perf_counter()
    imported = _screening(db, codes, spec, rng, Path(directory))
    step("screening import", started)
    started = time.perf_counter()
    added = _top_up_followups(db, spec, rng)
    step("follow-ups", started)
    started = time.perf_counter()
    cases = _cases(db, spec, rng)
    step("concerns, plans, referrals", started)
    started = time.perf_counter()
    topped = _top_up_audit(db, spec, rng)
    step("audit entries", started)
    started = time.perf_counter()
    sealed = audit.seal_pending(db, batch_size=5000)
    step("sealing", started)
    started = time.perf_counter()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    step("analyze", started)
    counts = _counts(db)
    db.dispose()
    return json.dumps({
        "spec": asdict(spec), "users": users, "password": PASSWORD, "totp_secret": TOTP_SECRET,
        "responses": imported, "followups_added": added, "cases": cases,
        "audit_added": topped, "sealed": sealed, "counts": counts, "steps_s": steps,
    })  # fmt: skip


def _staff(db: Any, settings: Any, spec: WorldSpec) -> list[dict[str, str]]:
    """Per school a psychology teacher and a leader, the district's counsellors; every account
    with a second factor enrolled (the known secret) and an e-mail address."""
    from wellbeing.auth.admin import create_user, grant_membership
    from wellbeing.core.authz import Role
    from wellbeing.orgs.models import School

    made: list[dict[str, str]] = []
    with db.session() as session:

        def user(name: str, role: Role, school: School | None) -> Any:
            account = create_user(
                session, None, settings, username=name, password=PASSWORD,
                email=f"{name}@district.example", locale=("zh_CN", "en")[len(made) % 2],
            )  # fmt: skip
            grant_membership(session, None, account, role, school=school)
            account.totp_secret = TOTP_SECRET
            account.totp_enabled = True
            made.append({"username": name, "role": role.value,
                         "school_id": str(school.id) if school else "",
                         "school_code": school.code if school else ""})  # fmt: skip
            return account

        for n, school in enumerate(session.scalars(select(School).order_by(School.code)).all()):
            user(f"psych{n:03d}", Role.PSYCH_TEACHER, school)
            user(f"leader{n:03d}", Role.SCHOOL_LEADER, school)
        for n in range(spec.counsellors):
            user(f"counsellor{n}", Role.COUNSELLOR, None).on_duty = n == 0
    return made


def _screening(db: Any, codes: list[str], spec: WorldSpec, rng: random.Random, tmp: Path) -> int:
    """One district campaign, open a month either side of today, and its results file imported
    as ``wellbeing screening import`` does."""
    from wellbeing.orgs.models import School
    from wellbeing.screening.intake.importer import import_file
    from wellbeing.screening.services import create_campaign

    from .synthetic import answers, iter_students, today

    path = tmp / "load-screening.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["school_code", "student_number", *PHQ, *GAD])
        for student in iter_students(codes, spec.students):
            phq, gad = answers(rng)
            if rng.random() < spec.coverage:
                writer.writerow([student.school_code, student.student_number, *phq, *gad])
    with db.session() as session:
        day = today()
        campaign = create_campaign(
            session, None, name="Load benchmark screening", instruments=["phq9", "gad7"],
            schools=list(session.scalars(select(School).order_by(School.code))),
            grades=list(range(4, 13)), opens_on=day - dt.timedelta(days=30),
            closes_on=day + dt.timedelta(days=30), district_wide=True,
        )  # fmt: skip
        report = import_file(session, None, campaign, path)
        if not report.ok:
            raise RuntimeError(f"the screening import failed: {report.errors[:5]}")
        created = int(report.created)
    path.unlink()
    return created


def _top_up_followups(db: Any, spec: WorldSpec, rng: random.Random) -> int:
    """Open follow-ups up to ``spec.followups``: cadence ones of students who have none, owned
    by their school's psychology teacher, due over the next month."""
    from wellbeing.auth.models import Membership
    from wellbeing.followups.models import FollowUp
    from wellbeing.students.models import Student

    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        open_now = (
            session.scalar(
                select(func.count()).select_from(FollowUp).where(FollowUp.state == "open")
            )
            or 0
        )
        wanted = max(0, spec.followups - open_now)
        taken = set(session.scalars(select(FollowUp.student_id).where(FollowUp.state == "open")))
        owners = dict(session.execute(select(Membership.school_id, Membership.user_id)
                                      .where(Membership.role == "psych_teacher")).all())  # fmt: skip
        pool = [
            r for r in session.execute(select(Student.id, Student.school_id)) if r[0] not in taken
        ]
        rows = [{"id": uuid.uuid4(), "student_id": sid, "school_id": school_id,
                 "owner_id": owners[school_id], "source": "cadence", "state": "open",
                 "due_at": now + dt.timedelta(minutes=rng.randint(60, 60 * 24 * 30)), "created_at": now}
                for sid, school_id in rng.sample(pool, min(wanted, len(pool)))]  # fmt: skip
        for start in range(0, len(rows), 10_000):
            session.execute(insert(FollowUp.__table__), rows[start : start + 10_000])
    return len(rows)


def _cases(db: Any, spec: WorldSpec, rng: random.Random) -> dict[str, int]:
    """Concerns, draft plans and draft referrals of some orange/red students, written by their
    school's psychology teacher through the services (encrypted and audited as the app does)."""
    from wellbeing.auth.models import Membership, User
    from wellbeing.auth.sessions import build_principal
    from wellbeing.concerns.services import report_concern
    from wellbeing.plans.services import start_plan
    from wellbeing.referrals.services import ReferralInput, create_draft
    from wellbeing.students.models import Student

    made = {"concerns": 0, "plans": 0, "referrals": 0}
    with db.session() as session:
        teacher_of = dict(session.execute(select(Membership.school_id, Membership.user_id)
                                          .where(Membership.role == "psych_teacher")).all())  # fmt: skip
        ids = list(
            session.scalars(select(Student.id).where(Student.tier >= 2).order_by(Student.id))
        )
    for start in range(0, len(ids), 500):  # a transaction per 500 students: a small session
        with db.session() as session:
            teachers: dict[uuid.UUID, Any] = {}
            for student in session.scalars(
                select(Student).where(Student.id.in_(ids[start : start + 500]))
            ):
                if student.school_id not in teachers:
                    user = session.get(User, teacher_of[student.school_id])
                    teachers[student.school_id] = build_principal(session, user)
                actor = teachers[student.school_id]
                if rng.random() < spec.concern_share:
                    report_concern(session, actor, student, category=rng.choice(("mood", "behaviour", "family", "academic")),
                                   urgency=rng.choice(("routine", "soon")),
                                   text="课堂上情绪低落，午饭时独自坐着，最近两周交作业明显减少。")  # fmt: skip
                    made["concerns"] += 1
                if rng.random() < spec.plan_share:
                    start_plan(session, actor, student.id)
                    made["plans"] += 1
                if rng.random() < spec.referral_share:
                    create_draft(session, actor, student.id, ReferralInput(
                        reason="筛查结果持续偏高，学校辅导后仍有睡眠和情绪问题，请评估。",
                        internal_reason="家长同意转介。"))  # fmt: skip
                    made["referrals"] += 1
    return made


def _top_up_audit(db: Any, spec: WorldSpec, rng: random.Random, batch: int = 5000) -> int:
    """Unsealed entries (staff viewing records of real students) up to ``spec.audit_entries``."""
    from wellbeing.auth.models import Membership, User
    from wellbeing.core.audit import ENTRY_TABLE
    from wellbeing.students.models import Student

    with db.session() as session:
        have = session.scalar(select(func.count()).select_from(ENTRY_TABLE)) or 0
        staff = session.execute(select(User.id, User.username, Membership.role, Membership.school_id)
                                .join(Membership, Membership.user_id == User.id)).all()  # fmt: skip
        sample = session.execute(select(Student.id, Student.school_id).limit(50_000)).all()
    wanted = max(0, spec.audit_entries - have)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=180)
    step = dt.timedelta(days=179) / max(1, wanted)
    made = 0
    while made < wanted:
        rows = []
        for i in range(made, min(made + batch, wanted)):
            user_id, username, role, _school = staff[i % len(staff)]
            student_id, school_id = sample[rng.randrange(len(sample))]
            rows.append({
                "occurred_at": start + step * i, "actor_user_id": user_id, "actor_username": username,
                "actor_role": role, "actor_scope": f"{role}:school", "session_hash": f"{i % 9973:016x}",
                "ip": "10.1.2.3", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
                "request_id": f"{i:016x}", "action": "case:student:view", "object_type": "student",
                "object_id": str(student_id), "student_id": student_id, "school_id": school_id,
                "fields": ["name", "tier"], "detail": {"n": i % 7} if i % 5 == 0 else {},
                "purpose": None, "outcome": "allowed", "break_glass_id": None,
            })  # fmt: skip
        with db.session() as session:
            session.execute(insert(ENTRY_TABLE), rows)
        made += len(rows)
    return made


def _counts(db: Any) -> dict[str, int]:
    tables = ("student", "screening_response", "alert", "alert_inbox", "followup", "concern",
              "plan", "referral", "audit_entry", "user_account")  # fmt: skip
    out = {}
    with db.engine.connect() as conn:
        for table in tables:
            out[table] = int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)
        out["followup_open"] = int(
            conn.execute(text("SELECT count(*) FROM followup WHERE state = 'open'")).scalar() or 0
        )
        out["alert_open"] = int(
            conn.execute(text("SELECT count(*) FROM alert WHERE state = 'open'")).scalar() or 0
        )
    return out


# --------------------------------------------------------------------------- the load's targets

ROLE_SHARES = (("psych_teacher", 0.6), ("school_leader", 0.25), ("counsellor", 0.15))


def choose_users(users: list[dict[str, str]], count: int) -> list[dict[str, str]]:
    """``count`` accounts, roles in ROLE_SHARES (as far as the district has them), schools spread."""
    by_role = {role: [u for u in users if u["role"] == role] for role, _share in ROLE_SHARES}
    chosen: list[dict[str, str]] = []
    for role, share in ROLE_SHARES:
        chosen += by_role[role][: max(1, round(count * share))]
    rest = [u for u in users if u not in chosen]
    return (chosen + rest)[:count]


def targets(
    db: Any, users: list[dict[str, str]], per_user: int = 200
) -> dict[str, dict[str, list[Any]]]:
    """What each user may open and act on, as the app's policy says (``authz.can``): students
    of their record (ids, names to search, school and number to report a concern), alerts open
    in their inbox (each given to one user only) and open follow-ups they may complete."""
    from wellbeing.alerts.models import Alert, AlertInbox
    from wellbeing.auth.models import User
    from wellbeing.auth.sessions import build_principal
    from wellbeing.core.authz import Permission, can
    from wellbeing.followups.models import FollowUp
    from wellbeing.students.models import Student

    out: dict[str, dict[str, list[Any]]] = {}
    claimed: set[uuid.UUID] = set()
    with db.session() as session:
        for entry in users:
            user = session.scalar(select(User).where(User.username == entry["username"]))
            assert user is not None  # noqa: S101 (made by build_world)
            principal = build_principal(session, user)
            query = select(Student).where(Student.status == "active")
            if entry["school_id"]:
                query = query.where(Student.school_id == uuid.UUID(entry["school_id"]))
            else:
                query = query.where(Student.district_involved.is_(True))
            readable = [s for s in session.scalars(query.order_by(Student.id).limit(per_user * 5))
                        if can(principal, Permission.RECORD_READ, s)][:per_user]  # fmt: skip
            alerts = [a for a in session.scalars(
                select(AlertInbox.alert_id).join(Alert, Alert.id == AlertInbox.alert_id)
                .where(AlertInbox.user_id == user.id, AlertInbox.is_open.is_(True), Alert.state == "open")
            ) if a not in claimed]  # fmt: skip
            claimed.update(alerts)
            followups = [f.id for f, s in session.execute(
                select(FollowUp, Student).join(Student, Student.id == FollowUp.student_id)
                .where(FollowUp.owner_id == user.id, FollowUp.state == "open").limit(5000)
            ).all() if can(principal, Permission.FOLLOWUPS_MANAGE, s)]  # fmt: skip
            out[entry["username"]] = {
                "students": [str(s.id) for s in readable],
                "names": [s.name for s in readable],
                "numbers": [[str(uuid.UUID(str(s.school_id))), s.student_number] for s in readable],
                "alerts": [str(a) for a in alerts],
                "followups": [str(f) for f in followups],
            }
    return out
