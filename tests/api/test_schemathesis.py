"""Schemathesis against the served document (``/api/v1/openapi.json``), through the Flask app
(WSGI): every operation (but the document itself), with a valid token of the scope it names, examples generated from the
document (positive: values it allows; negative: values it forbids), and path ids both drawn at
random and pinned to real objects. Each answer must be documented for that operation, conform
to the documented schema (body, content type, headers) and never be a 5xx; a value the document
allows must not be refused (400/422) on reads, one it forbids must be refused.

Bounded: ``EXAMPLES`` per operation, mode and id choice (about 15 s on SQLite).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from wellbeing.alerts.services import raise_alert
from wellbeing.api.openapi import build_document
from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Role
from wellbeing.db import utcnow
from wellbeing.followups.services import schedule_followup

from ..factories import make_school, make_student, make_user
from ..plans.test_authz_plan_tasks import plan_in_effect
from ..referrals.test_api_referrals import schemathesis_world
from ..screening.helpers import open_campaign
from .helpers import bearer

EXAMPLES = 12
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _world(db_session: Any, env: Any) -> tuple[dict[str, dict[str, str]], dict[str, str], dict[str, Any]]:  # fmt: skip
    """A psych teacher with a token per scope, and real ids for the path parameters."""
    school = make_school(db_session)
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    student = make_student(db_session, school, student_number="2024-001", tier=2)
    alert = raise_alert(
        db_session, kind="red_tier", school_id=school.id, student_id=student.id, tier=3
    )
    schedule_followup(
        db_session, None, student, due_at=utcnow() + dt.timedelta(hours=2),
        owner_id=teacher.id, source="manual",
    )  # fmt: skip
    campaign = open_campaign(db_session, [school])
    leader = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=school)
    plan_in_effect(db_session, build_principal(db_session, teacher), student,
                   signer=build_principal(db_session, leader))  # fmt: skip
    liaison, referral_ids, bodies = schemathesis_world(db_session, env.settings, teacher, student)
    scopes = ("students:read", "alerts:read", "followups:read", "screening:read",
              "screening:intake", "plans:read", "tasks:read", "referrals:read")  # fmt: skip
    tokens = {scope: bearer(db_session, teacher, scope) for scope in scopes}
    tokens[""] = bearer(db_session, teacher, *scopes)  # operations without a named scope
    tokens["partner:referrals"] = bearer(db_session, liaison, "partner:referrals")
    ids = {"student_id": str(student.id), "alert_id": str(alert.id),
           "campaign_id": str(campaign.id)} | referral_ids  # fmt: skip
    db_session.flush()
    return tokens, ids, bodies


# A batch the campaign accepts (recorded once: 201, then 200 "unchanged").
VALID_BATCH = {"responses": [{"key": "st-1", "student_number": "2024-001", "instrument": "phq9",
                              "answers": {f"phq9_{n}": 1 for n in range(1, 10)}}]}  # fmt: skip


def _headers(operation: Any, tokens: dict[str, dict[str, str]]) -> dict[str, str]:
    security = operation.definition.raw.get("security")
    if security == []:
        return {}
    scopes = [scope for requirement in security or [{}] for scope in requirement.get("bearer", [])]
    return tokens[scopes[0] if scopes else ""]


def _run(strategy: Any, headers: dict[str, str], checks: list[Any], seen: set[int]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any) -> None:
        seen.add(case.call_and_validate(headers=headers, checks=checks).status_code)

    call()


@pytest.mark.slow
def test_every_operation_conforms_to_the_document(app, db_session, env):
    tokens, ids, bodies = _world(db_session, env)
    # Unknown query parameters are ignored (as HTTP APIs commonly do), so negative cases do not
    # add them; the token is ours, not generated.
    config = schemathesis.Config.from_dict(
        {"generation": {"allow-extra-parameters": False, "with-security-parameters": False}}
    )
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    # Every documented operation but the document itself (schemathesis skips the endpoint it
    # loaded the document from; test_openapi.py covers that one).
    documented = {(m.upper(), p) for p, item in build_document()["paths"].items() for m in item}
    assert {(o.method.upper(), o.path) for o in operations} == documented - {
        ("GET", "/openapi.json")
    }
    seen: dict[str, set[int]] = {}
    for operation in operations:
        headers = _headers(operation, tokens)
        path_names = [p.name for p in operation.path_parameters]
        # a path's own object first (referrals: one per partner operation, in its state)
        pinned = {
            name: ids.get(f"{operation.path}:{name}", ids.get(name, "")) for name in path_names
        }
        writes = operation.method.upper() != "GET"
        inputs = bool(list(operation.iter_parameters()) or operation.body)
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if inputs else [])
        for mode in modes:  # (nothing to negate on an operation without inputs)
            checks = list(CONFORMANCE)
            if mode is GenerationMode.NEGATIVE:
                checks.append(negative_data_rejection)
            elif not writes:  # an intake batch can be refused for what no schema says (422)
                checks.append(positive_data_acceptance)
            choices: list[dict[str, str] | None] = [None, pinned] if path_names else [None]
            for path_parameters in choices:
                if mode is GenerationMode.NEGATIVE and path_parameters:
                    continue  # negative ids are drawn, not pinned
                strategy = operation.as_strategy(
                    generation_mode=mode, path_parameters=path_parameters
                )
                _run(strategy, headers, checks, seen.setdefault(operation.label, set()))
        if writes:
            body = bodies.get(operation.path, VALID_BATCH)
            strategy = operation.as_strategy(
                path_parameters=pinned, **({"body": body} if operation.body else {})
            )
            for _again in range(2):  # one fixed example a run: recorded, then unchanged
                _run(strategy, headers, CONFORMANCE, seen[operation.label])
    # The examples reached the operations, not only their refusals.
    for label, statuses in seen.items():
        assert statuses & ({200, 201} if label.startswith("POST") else {200}), (label, statuses)
    assert {201, 200, 404, 422} <= seen["POST /campaigns/{campaign_id}/responses"]
