"""Every route marked ``sensitive=True`` (it shows a child's data) writes an audit entry that
carries the request's id and the student's id.

The harness walks the app's sensitive routes. Each needs a URL builder in ``BUILDERS`` below:
a function of the test :class:`~tests.authz.World` returning a :class:`Visit` (URL, the role of
a user allowed to see it, the student whose id the entry must carry, optionally method/data).
A sensitive route without a builder fails the test, so a new sensitive page cannot ship
unchecked. Module owners: register yours with ``@builder("endpoint")`` (create the objects the
page needs in the builder, through factories or services).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import g
from sqlalchemy import select

from wellbeing.audit.models import AuditEntry, BreakGlass
from wellbeing.db import utcnow

from ..api.helpers import bearer
from ..authz import World, build_world
from ..conftest import login


@dataclass
class Visit:
    url: str
    role: str  # a key of ``World.users``
    student: Any  # the student whose id the audit entry must carry (in student_id or detail)
    method: str = "GET"
    data: dict[str, Any] = field(default_factory=dict)
    scopes: tuple[str, ...] = ()  # API: a bearer token with these scopes (no session there)


Builder = Callable[[World], Visit]
BUILDERS: dict[str, Builder] = {}


def builder(endpoint: str) -> Callable[[Builder], Builder]:
    def register(function: Builder) -> Builder:
        BUILDERS[endpoint] = function
        return function

    return register


# --------------------------------------------------------------------------- builders: audit


@builder("audit.student_accesses")
def _audit_student(w: World) -> Visit:
    return Visit(f"/audit/students/{w.own_student.id}", "supervisor", w.own_student)


@builder("audit.break_glass_review")
def _audit_break_glass_review(w: World) -> Visit:
    now = utcnow()
    grant = BreakGlass(
        user_id=w.users["counsellor"].id, student_id=w.other_student.id, started_at=now,
        expires_at=now + dt.timedelta(minutes=60), reason="Sensitive-route harness: emergency",
    )  # fmt: skip
    w.session.add(grant)
    w.session.flush()
    return Visit(f"/audit/break-glass/{grant.id}", "supervisor", w.other_student)


# --------------------------------------------------------------------------- builders: students


@builder("students.record")
def _students_record(w: World) -> Visit:
    return Visit(f"/students/{w.own_student.id}", "psych_teacher", w.own_student)


@builder("students.timeline")
def _students_timeline(w: World) -> Visit:
    return Visit(f"/students/{w.own_student.id}/timeline", "psych_teacher", w.own_student)


@builder("students.search")
def _students_search(w: World) -> Visit:
    return Visit(f"/students/search?q={w.own_student.name}", "psych_teacher", w.own_student)


# --------------------------------------------------------------------------- builders: pages of one student


@builder("risk.student_tier")
def _risk_student_tier(w: World) -> Visit:
    return Visit(f"/students/{w.own_student.id}/tier", "psych_teacher", w.own_student)


@builder("risk.stepdown_queue")
def _risk_stepdown_queue(w: World) -> Visit:
    from wellbeing.auth.services import build_principal
    from wellbeing.risk.services import apply_tier

    apply_tier(w.session, None, w.own_student, 3, source="concern")
    requester = build_principal(w.session, w.users["psych_teacher"])
    apply_tier(w.session, requester, w.own_student, 1, source="manual", reason="harness")
    return Visit("/tier/stepdowns", "school_leader", w.own_student)


@builder("followups.schedule")
def _followups_schedule(w: World) -> Visit:
    return Visit(f"/students/{w.own_student.id}/followups/new", "psych_teacher", w.own_student)


def _followup_for(w: World):  # type: ignore[no-untyped-def]
    from wellbeing.followups.services import schedule_followup

    return schedule_followup(
        w.session, None, w.own_student, due_at=utcnow() + dt.timedelta(hours=2),
        owner_id=w.users["psych_teacher"].id, source="manual",
    )  # fmt: skip


@builder("followups.agenda")
def _followups_agenda(w: World) -> Visit:
    _followup_for(w)
    return Visit("/agenda", "psych_teacher", w.own_student)


@builder("followups.complete")
def _followups_complete(w: World) -> Visit:
    return Visit(f"/followups/{_followup_for(w).id}/complete", "psych_teacher", w.own_student)


@builder("followups.detail")
def _followups_detail(w: World) -> Visit:
    from wellbeing.auth.services import build_principal
    from wellbeing.followups.services import complete_followup

    followup = _followup_for(w)
    principal = build_principal(w.session, w.users["psych_teacher"])
    complete_followup(w.session, principal, followup, outcome="seen", note="harness")
    return Visit(f"/followups/{followup.id}", "psych_teacher", w.own_student)


@builder("students.guardian")
def _students_guardian(w: World) -> Visit:
    return Visit(f"/students/{w.own_student.id}/guardians/0", "psych_teacher", w.own_student)


@builder("crisis.guardian_contacts")
def _crisis_guardian_contacts(w: World) -> Visit:
    return Visit(
        f"/crisis/students/{w.own_student.id}/guardian-contacts", "psych_teacher", w.own_student
    )


# --------------------------------------------------------------------------- builders: alerts


def _alert_about(w: World):  # type: ignore[no-untyped-def]
    from wellbeing.alerts.services import raise_alert

    return raise_alert(
        w.session, kind="red_tier", school_id=w.own_school.id, student_id=w.own_student.id, tier=3
    )


@builder("alerts.inbox")
def _alerts_inbox(w: World) -> Visit:
    _alert_about(w)
    return Visit("/alerts", "psych_teacher", w.own_student)


@builder("alerts.detail")
def _alerts_detail(w: World) -> Visit:
    return Visit(f"/alerts/{_alert_about(w).id}", "psych_teacher", w.own_student)


@builder("alerts.district_queue")
def _alerts_district_queue(w: World) -> Visit:
    w.own_student.district_involved = True
    _alert_about(w)
    return Visit("/district/alerts", "counsellor", w.own_student)


# --------------------------------------------------------------------------- builders: screening


def _screened(w: World, student=None):  # type: ignore[no-untyped-def]
    from tests.screening.helpers import open_campaign
    from wellbeing.screening.services import record_answers

    student = student or w.own_student
    campaign = open_campaign(w.session, [w.own_school])
    answers = {f"phq9_{n}": 0 for n in range(1, 9)} | {"phq9_9": 1}
    record_answers(w.session, None, campaign, student, {"phq9": answers})
    return student


@builder("screening.review")
def _screening_review(w: World) -> Visit:
    from tests.factories import make_student

    # A student of no other builder: still provisional (other pages may have confirmed own_student).
    return Visit(
        "/screening/review", "psych_teacher", _screened(w, make_student(w.session, w.own_school))
    )


@builder("screening.history")
def _screening_history(w: World) -> Visit:
    return Visit(f"/students/{_screened(w).id}/screening", "psych_teacher", w.own_student)


@builder("screening.fhir_export")
def _screening_fhir(w: World) -> Visit:
    return Visit(f"/students/{_screened(w).id}/screening/fhir", "psych_teacher", w.own_student)


# --------------------------------------------------------------------------- builders: concerns, crisis, reports


def _principal(w: World, role: str):  # type: ignore[no-untyped-def]
    from wellbeing.auth.services import build_principal

    return build_principal(w.session, w.users[role])


def _concern_on(w: World, student):  # type: ignore[no-untyped-def]
    from wellbeing.concerns.services import create_concern

    return create_concern(
        w.session, _principal(w, "class_teacher"), student, category="mood", urgency="routine",
        text="harness",
    )  # fmt: skip


def _class_student(w: World, **extra):  # type: ignore[no-untyped-def]
    from wellbeing.orgs.models import SchoolClass

    from ..factories import make_student

    klass = w.session.get(SchoolClass, w.own_student.class_id)
    return make_student(w.session, w.own_school, klass, **extra)


@builder("concerns.new")
def _concerns_new(w: World) -> Visit:
    return Visit("/concerns/new", "class_teacher", w.own_student)


@builder("concerns.mine")
def _concerns_mine(w: World) -> Visit:
    student = _class_student(w)
    _concern_on(w, student)
    return Visit("/concerns/mine", "class_teacher", student)


@builder("concerns.queue")
def _concerns_queue(w: World) -> Visit:
    student = _class_student(w)
    _concern_on(w, student)
    return Visit("/concerns/queue", "psych_teacher", student)


@builder("workbench.caseload")
def _workbench_caseload(w: World) -> Visit:
    return Visit("/caseload", "psych_teacher", _class_student(w, tier=2))


@builder("workbench.class_list")
def _workbench_class_list(w: World) -> Visit:
    return Visit("/my-class", "class_teacher", _class_student(w))


@builder("concerns.detail")
def _concerns_detail(w: World) -> Visit:
    student = _class_student(w)
    return Visit(f"/concerns/{_concern_on(w, student).id}", "psych_teacher", student)


@builder("concerns.hotline_detail")
def _concerns_hotline_detail(w: World) -> Visit:
    from wellbeing.concerns.hotline import log_hotline_call

    student = _class_student(w)
    call = log_hotline_call(
        w.session, _principal(w, "counsellor"), called_at=utcnow(), duration_minutes=10,
        caller_type="guardian", topics=["family"], risk_level=1, notes="harness",
        school_id=w.own_school.id, student_number=student.student_number,
    )  # fmt: skip
    return Visit(f"/hotline/{call.id}", "counsellor", student)


@builder("crisis.index")
def _crisis_index(w: World) -> Visit:
    from wellbeing.crisis.services import open_crisis

    student = _class_student(w, tier=3)
    open_crisis(w.session, student)
    return Visit("/crisis", "school_leader", student)


@builder("crisis.detail")
def _crisis_detail(w: World) -> Visit:
    from wellbeing.crisis.services import open_crisis

    student = _class_student(w, tier=3)
    return Visit(f"/crisis/{open_crisis(w.session, student).id}", "psych_teacher", student)


@builder("crisis.step")
def _crisis_step(w: World) -> Visit:
    from wellbeing.crisis.services import open_crisis

    student = _class_student(w, tier=3)
    crisis = open_crisis(w.session, student)
    return Visit(f"/crisis/{crisis.id}/steps/acknowledge", "psych_teacher", student, "POST")


@builder("crisis.close")
def _crisis_close(w: World) -> Visit:
    """Refused (no summary, steps missing): the checklist is shown again, its read audited."""
    from wellbeing.crisis.services import open_crisis

    student = _class_student(w, tier=3)
    crisis = open_crisis(w.session, student)
    return Visit(f"/crisis/{crisis.id}/close", "psych_teacher", student, "POST")


@builder("reports.school")
def _reports_school(w: World) -> Visit:
    student = _class_student(w, tier=3)
    return Visit(f"/reports/school?school={w.own_school.id}", "school_leader", student)


@builder("reports.district")
def _reports_district(w: World) -> Visit:
    student = _class_student(w, tier=3, district_involved=True)
    return Visit("/reports/district", "counsellor", student)


@builder("reports.report_page")
def _reports_report_page(w: World) -> Visit:
    """The coverage report of the psychology teacher's school names the students not screened
    (the page's REPORT_VIEW entry lists them)."""
    from tests.screening.helpers import open_campaign

    student = _class_student(w)
    campaign = open_campaign(w.session, [w.own_school])
    url = f"/reports/coverage?school={w.own_school.id}&campaign={campaign.id}"
    return Visit(url, "psych_teacher", student)


# --------------------------------------------------------------------------- builders: JSON API (/api/v1)


@builder("students_api.search")
def _students_api_search(w: World) -> Visit:
    number = w.own_student.student_number
    return Visit(f"/api/v1/students?number={number}", "psych_teacher", w.own_student,
                 scopes=("students:read",))  # fmt: skip


@builder("students_api.detail")
def _students_api_detail(w: World) -> Visit:
    return Visit(f"/api/v1/students/{w.own_student.id}", "psych_teacher", w.own_student,
                 scopes=("students:read",))  # fmt: skip


@builder("alerts_api.inbox")
def _alerts_api_inbox(w: World) -> Visit:
    _alert_about(w)
    return Visit("/api/v1/alerts", "psych_teacher", w.own_student, scopes=("alerts:read",))


@builder("alerts_api.detail")
def _alerts_api_detail(w: World) -> Visit:
    return Visit(f"/api/v1/alerts/{_alert_about(w).id}", "psych_teacher", w.own_student,
                 scopes=("alerts:read",))  # fmt: skip


@builder("followups_api.agenda")
def _followups_api_agenda(w: World) -> Visit:
    _followup_for(w)
    return Visit("/api/v1/followups", "psych_teacher", w.own_student,
                 scopes=("followups:read", "students:read"))  # fmt: skip


# --------------------------------------------------------------------------- builders: notes


def _note_for(w: World, *, sign: bool):  # type: ignore[no-untyped-def]
    from wellbeing.auth.services import build_principal
    from wellbeing.notes.services import NoteInput, write_note

    author = build_principal(w.session, w.users["psych_teacher"])
    data = NoteInput(session_date=utcnow().date(), note_type="individual", duration_minutes=30,
                     content="Sensitive-route harness: a session")  # fmt: skip
    return write_note(w.session, author, w.own_student, data, sign=sign)


@builder("notes.new")
def _notes_new(w: World) -> Visit:
    return Visit(f"/students/{w.own_student.id}/notes/new", "psych_teacher", w.own_student)


@builder("notes.detail")
def _notes_detail(w: World) -> Visit:
    return Visit(f"/notes/{_note_for(w, sign=True).id}", "school_leader", w.own_student)


@builder("notes.edit")
def _notes_edit(w: World) -> Visit:
    return Visit(f"/notes/{_note_for(w, sign=False).id}/edit", "psych_teacher", w.own_student)


@builder("notes.addendum")
def _notes_addendum(w: World) -> Visit:
    note = _note_for(w, sign=True)
    return Visit(f"/notes/{note.id}/addenda", "psych_teacher", w.own_student, method="POST",
                 data={"text": "Harness: a correction"})  # fmt: skip


# --------------------------------------------------------------------------- builders: referrals


def _referral_for(w: World, submit: bool = True) -> Any:
    """A referral of the own student (guardian consent recorded), submitted unless not."""
    from wellbeing.auth.services import build_principal
    from wellbeing.crisis.guardian_log import record_guardian_contact
    from wellbeing.referrals import services as referrals

    sender = build_principal(w.session, w.users["psych_teacher"])
    student = w.own_student
    student.guardians = [{"name": "王母", "phone": "13800000000", "relation": "mother"}]
    record_guardian_contact(w.session, sender, student, relation="mother", channel="phone",
                            contacted_at=utcnow() - dt.timedelta(hours=1), summary="harness",
                            consent_purpose="referral", consent="given")  # fmt: skip
    for found in referrals.queries.student_referrals(w.session, student.id):
        if found.is_open:
            return found
    referral = referrals.create_draft(w.session, sender, student.id,
                                      referrals.ReferralInput(reason="harness"))  # fmt: skip
    if submit:
        referrals.submit(w.session, sender, referral.id)
    return referral


@builder("referrals.new")
def _referrals_new(w: World) -> Visit:
    return Visit(f"/students/{w.own_student.id}/referrals/new", "psych_teacher", w.own_student)


@builder("referrals.index")
def _referrals_index(w: World) -> Visit:
    _referral_for(w)
    return Visit("/referrals", "counsellor", w.own_student)


@builder("referrals.detail")
def _referrals_detail(w: World) -> Visit:
    return Visit(f"/referrals/{_referral_for(w).id}", "school_leader", w.own_student)


@builder("referrals.edit")
def _referrals_edit(w: World) -> Visit:
    return Visit(f"/referrals/{_referral_for(w).id}/edit", "psych_teacher", w.own_student)


@builder("referrals.preview")
def _referrals_preview(w: World) -> Visit:
    return Visit(f"/referrals/{_referral_for(w).id}/preview", "psych_teacher", w.own_student)


@builder("referrals.letter")
def _referrals_letter(w: World) -> Visit:
    return Visit(f"/referrals/{_referral_for(w).id}/letter", "psych_teacher", w.own_student)


@builder("referrals.fhir")
def _referrals_fhir(w: World) -> Visit:
    return Visit(f"/referrals/{_referral_for(w).id}/fhir", "psych_teacher", w.own_student)


# --------------------------------------------------------------------------- the walk


def sensitive_endpoints(app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    found = {}
    for rule in app.url_map.iter_rules():
        if getattr(app.view_functions.get(rule.endpoint), "sensitive", False):
            found[rule.endpoint] = rule.rule
    return found


def _entry_names_student(entry: AuditEntry, student_id: Any) -> bool:
    listed = entry.detail.get("students", []) if isinstance(entry.detail, dict) else []
    return entry.student_id == student_id or str(student_id) in [str(s) for s in listed]


def visit_and_check(client, db_session, world: World, endpoint: str) -> str | None:  # type: ignore[no-untyped-def]
    """Request the page; return a problem description, or None when it was audited."""
    visit = BUILDERS[endpoint](world)
    db_session.flush()
    with client.session_transaction() as sess:
        sess.clear()
    login(client, world.users[visit.role])
    headers = bearer(db_session, world.users[visit.role], *visit.scopes) if visit.scopes else None
    with client:
        response = client.open(
            visit.url, method=visit.method, data=visit.data or None, headers=headers
        )
        request_id = g.request_id
    if response.status_code >= 400:
        return f"{endpoint}: {visit.method} {visit.url} as {visit.role} gave {response.status_code}"
    db_session.expire_all()
    entries = db_session.scalars(
        select(AuditEntry).where(AuditEntry.request_id == request_id)
    ).all()
    if not entries:
        return f"{endpoint}: no audit entry carries request id {request_id}"
    if not any(_entry_names_student(e, visit.student.id) for e in entries):
        return f"{endpoint}: the request's entries do not name student {visit.student.id}"
    return None


def test_every_sensitive_route_has_a_builder(app):
    missing = sorted(set(sensitive_endpoints(app)) - set(BUILDERS))
    assert missing == [], f"sensitive routes without a URL builder in {__name__}: {missing}"


def test_builders_name_sensitive_routes(app):
    stale = sorted(set(BUILDERS) - set(sensitive_endpoints(app)))
    assert stale == []


def test_every_sensitive_route_writes_an_entry_naming_the_student(app, client, db_session, env):
    world = build_world(db_session, env.settings)
    problems = [
        problem
        for endpoint in sorted(sensitive_endpoints(app))
        if endpoint in BUILDERS
        for problem in [visit_and_check(client, db_session, world, endpoint)]
        if problem
    ]
    assert problems == []


# Modules whose builders live beside their tests (they import ``builder`` from here).
from ..plans import sensitive_builders as plans_builders  # noqa: E402, F401
from ..referrals import portal_builders as portal_builders  # noqa: E402
from ..reports import sensitive_builders as reports_builders  # noqa: E402, F401
from ..students import sensitive_builders as students_builders  # noqa: E402, F401
from ..students import test_authz_leaving as test_authz_leaving  # noqa: E402
