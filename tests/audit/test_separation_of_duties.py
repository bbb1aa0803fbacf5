"""Separation of duties under break-glass (issue 12, item 13): supervisors break the glass only
where the district's policy allows it; nobody reviews their own grant; the alert never reaches
the grant's holder and the holder is told truthfully who was alerted; nothing is downloaded or
exported under break-glass, on any route that hands out a file; API tokens never reach through
a grant."""

from __future__ import annotations

import inspect

import pytest
from sqlalchemy import select

from wellbeing.alerts.models import Alert, AlertRecipient
from wellbeing.audit.models import BreakGlass
from wellbeing.auth.models import User
from wellbeing.auth.services import build_principal, create_api_token
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.risk.policy import current_policy, default_body
from wellbeing.risk.services import save_policy

from ..authz import build_world
from ..conftest import login
from ..factories import PASSWORD, make_user

REASON = "Hotline call: student reported in crisis, school unreachable"


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    return build_world(db_session, env.settings)


def _allow_supervisors(db_session, world) -> None:  # type: ignore[no-untyped-def]
    body = default_body()
    body["break_glass"] = {"supervisors": True}
    save_policy(db_session, None, world.own_school.district_id, body)
    db_session.flush()


def _start(client, student):  # type: ignore[no-untyped-def]
    return client.post(f"/break-glass/{student.id}", data={"reason": REASON, "password": PASSWORD})


def _alerted(db_session, grant) -> set:  # type: ignore[no-untyped-def]
    return set(
        db_session.scalars(
            select(AlertRecipient.user_id)
            .join(Alert, Alert.id == AlertRecipient.alert_id)
            .where(Alert.kind == "break_glass", Alert.source_id == grant.id)
        )
    )


def test_supervisors_break_glass_is_off_by_default(client, world, db_session, audit_entries):
    assert current_policy(db_session, world.own_school.district_id).supervisor_break_glass is False
    login(client, world.users["supervisor"])
    page = client.get(f"/break-glass/{world.own_student.id}")
    assert page.status_code == 403
    assert "policy does not allow supervisors" in page.get_data(as_text=True)
    assert _start(client, world.own_student).status_code == 403
    assert db_session.scalars(select(BreakGlass)).all() == []
    assert client.get(f"/students/{world.own_student.id}").status_code == 403
    denied = audit_entries(AuditAction.ACCESS_DENIED)
    assert [e.detail.get("rule") for e in denied][:2] == ["supervisor_policy"] * 2
    # Counsellors are not affected by the supervisors' setting.
    login(client, world.users["counsellor"])
    assert _start(client, world.own_student).status_code == 302


def test_supervisor_grant_goes_to_another_supervisor_never_to_its_holder(
    client, world, db_session, env
):
    _allow_supervisors(db_session, world)
    holder = world.users["supervisor"]
    other = make_user(db_session, env.settings, Role.SUPERVISOR)
    other.display_name, holder.display_name = "Second auditor", "Grant holder"
    db_session.flush()
    login(client, holder)
    started = _start(client, world.own_student)
    assert started.status_code == 302
    grant = db_session.scalars(select(BreakGlass)).one()
    # The alert reaches the other supervisor, never the holder ...
    assert _alerted(db_session, grant) == {other.id}
    # ... and the holder is told exactly that (not "supervisors have been notified").
    flashed = client.get(f"/students/{world.own_student.id}").get_data(as_text=True)
    told = flashed.split("Told at once", 1)[1].split("</", 1)[0]
    assert told == ": Second auditor (in-app)."
    # The holder's own grant is not in their review queue; a note says who reviews it.
    queue = client.get("/audit/break-glass").get_data(as_text=True)
    assert str(grant.id) not in queue and 'data-testid="own-grants-note"' in queue
    assert (
        client.post(
            f"/audit/break-glass/{grant.id}", data={"comment": "Looks fine to me"}
        ).status_code
        == 409
    )
    login(client, other)
    assert str(grant.id) in client.get("/audit/break-glass").get_data(as_text=True)
    assert "unreviewable-grants" not in client.get("/audit/integrity").get_data(as_text=True)
    reviewed = client.post(f"/audit/break-glass/{grant.id}", data={"comment": "Checked: fine"})
    assert reviewed.status_code == 302


def test_a_lone_supervisors_grant_is_flagged_on_the_integrity_panel(client, world, db_session):
    _allow_supervisors(db_session, world)
    holder = world.users["supervisor"]
    login(client, holder)
    assert _start(client, world.own_student).status_code == 302
    grant = db_session.scalars(select(BreakGlass)).one()
    # No other supervisor: the district's counsellors are told, the holder never.
    assert _alerted(db_session, grant) == {world.users["counsellor"].id}
    panel = client.get("/audit/integrity").get_data(as_text=True)
    assert 'data-testid="unreviewable-grants"' in panel
    assert str(grant.student_id).replace("-", "")[:8].upper() in panel


def test_the_grant_holder_is_never_alerted_even_when_nobody_else_is(client, world, db_session):
    """The top rung falls back to the district's counsellors: not to the one who broke in."""
    supervisor = db_session.get(User, world.users["supervisor"].id)
    supervisor.active = False
    db_session.flush()
    counsellor = world.users["counsellor"]
    login(client, counsellor)
    assert _start(client, world.own_student).status_code == 302
    grant = db_session.scalars(select(BreakGlass)).one()
    assert counsellor.id not in _alerted(db_session, grant)
    page = client.get(f"/students/{world.own_student.id}").get_data(as_text=True)
    assert "Nobody else could be told at once" in page
    assert "Supervisors have been notified" not in page


def test_downloads_are_refused_under_break_glass(client, world, db_session, audit_entries):
    counsellor = world.users["counsellor"]
    student = world.own_student
    login(client, counsellor)
    assert _start(client, student).status_code == 302
    assert client.get(f"/students/{student.id}/screening").status_code == 200  # reads on screen
    fhir = client.get(f"/students/{student.id}/screening/fhir")
    assert fhir.status_code == 403 and "attachment" not in fhir.headers.get(
        "Content-Disposition", ""
    )
    assert "not available while you hold break-glass" in fhir.get_data(as_text=True)
    denied = audit_entries(AuditAction.ACCESS_DENIED)[-1]
    assert denied.detail["rule"] == "break_glass_download"
    assert audit_entries(AuditAction.RECORD_EXPORT) == []


def test_audit_exports_are_refused_to_a_supervisor_holding_a_grant(client, world, db_session):
    _allow_supervisors(db_session, world)
    login(client, world.users["supervisor"])
    assert client.get("/audit/export.csv").status_code == 200
    assert _start(client, world.own_student).status_code == 302
    assert client.get(f"/students/{world.own_student.id}/screening/fhir").status_code == 403
    refused = client.get("/audit/export.csv")
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert 'data-testid="export-csv"' not in client.get("/audit/").get_data(as_text=True)
    grant = db_session.scalars(select(BreakGlass)).one()
    assert client.post(f"/break-glass/{grant.id}/end").status_code == 302
    assert client.get("/audit/export.csv").status_code == 200


def test_api_tokens_never_reach_through_a_grant(client, world, db_session):
    counsellor = world.users["counsellor"]
    login(client, counsellor)
    assert _start(client, world.own_student).status_code == 302
    principal = build_principal(db_session, counsellor)
    assert world.own_student.id in principal.break_glass_students
    new = create_api_token(
        db_session, principal, counsellor, name="sync", scopes=["students:read"], days=30
    )
    db_session.flush()
    client.delete_cookie("session")  # the token alone, as an API client sends it
    headers = {"Authorization": f"Bearer {new.token}"}
    response = client.get(f"/api/v1/students/{world.own_student.id}", headers=headers)
    assert response.status_code in {403, 404}
    assert world.own_student.name not in response.get_data(as_text=True)


def _view_source(view) -> str:  # type: ignore[no-untyped-def]
    return inspect.getsource(inspect.unwrap(view))


# Views that send something other than a page but are not downloads of records: the calendar
# feed (a public, token-addressed list of times and links, no content) and the API description.
NOT_DOWNLOADS = {"followups.feed", "api.openapi"}
FILE_MARKERS = ("Content-Disposition", "attachment", "text/csv", "send_file", "fhir+json")


def test_every_route_that_hands_out_a_file_is_refused_under_break_glass(app):
    """The class fix: one check (``require(..., download=True)``) on every download route.
    A view that sends a file without the mark fails here."""
    unmarked = []
    for endpoint, view in app.view_functions.items():
        if endpoint == "static" or endpoint in NOT_DOWNLOADS:
            continue
        source = _view_source(view)
        if any(marker in source for marker in FILE_MARKERS) and not getattr(
            view, "download", False
        ):
            unmarked.append(endpoint)
    assert unmarked == []
    marked = {e for e, v in app.view_functions.items() if getattr(v, "download", False)}
    assert {"screening.fhir_export", "audit.export_csv"} <= marked
