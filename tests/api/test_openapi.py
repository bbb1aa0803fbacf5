"""The OpenAPI 3.1 document: assembled from every module, structurally valid (every operation
has responses, every $ref resolves), covering every /api/v1 route, and matching real answers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from wellbeing.api.openapi import OpenApiConflict, build_document
from wellbeing.auth.services import build_principal, create_api_token

from ..factories import make_school, make_user

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _refs(node: Any, path: str = "#"):  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield path, value
            else:
                yield from _refs(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _refs(value, f"{path}/{i}")


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"external $ref {ref}"
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"$ref {ref} does not resolve"
        node = node[part]
    return node


def structural_problems(doc: dict[str, Any]) -> list[str]:
    problems = []
    if not str(doc.get("openapi", "")).startswith("3.1"):
        problems.append("openapi is not 3.1.x")
    for key in ("title", "version"):
        if not doc.get("info", {}).get(key):
            problems.append(f"info.{key} missing")
    schemes = doc.get("components", {}).get("securitySchemes", {})
    if schemes.get("bearer", {}).get("scheme") != "bearer":
        problems.append("no bearer security scheme")
    operation_ids = set()
    for path, item in doc.get("paths", {}).items():
        if not path.startswith("/"):
            problems.append(f"path {path} does not start with /")
        templated = set(re.findall(r"{([^}]+)}", path))
        path_params = {p.get("name") for p in item.get("parameters", []) if "name" in p}
        for method, op in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            responses = op.get("responses")
            if not responses:
                problems.append(f"{where}: no responses")
                continue
            for status, response in responses.items():
                if not re.fullmatch(r"[1-5](\d\d|XX)|default", str(status)):
                    problems.append(f"{where}: bad status {status}")
                if "$ref" not in response and "description" not in response:
                    problems.append(f"{where} {status}: response without description")
            op_id = op.get("operationId")
            if op_id in operation_ids:
                problems.append(f"{where}: duplicate operationId {op_id}")
            operation_ids.add(op_id)
            declared = path_params | {
                p.get("name") for p in op.get("parameters", []) if p.get("in") == "path"
            }
            for name in templated - declared:
                problems.append(f"{where}: path parameter {name} not declared")
            for requirement in op.get("security", doc.get("security", [])):
                for scheme in requirement:
                    if scheme not in schemes:
                        problems.append(f"{where}: unknown security scheme {scheme}")
    for where, ref in _refs(doc):
        try:
            _resolve(doc, ref)
        except AssertionError as exc:
            problems.append(f"{where}: {exc}")
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as exc:  # jsonschema.SchemaError
            problems.append(f"schema {name}: {exc}")
    return problems


@pytest.fixture
def document(client, db_session):  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/openapi.json")  # public: no sign-in
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def test_document_is_structurally_valid(document):
    assert structural_problems(document) == []
    assert "Error" in document["components"]["schemas"]
    assert "/me" in document["paths"] and document["servers"] == [{"url": "/api/v1"}]
    for item in document["paths"].values():
        for method, op in item.items():
            if method in METHODS and op.get("security", document["security"]) != []:
                assert "401" in op["responses"] and "403" in op["responses"]


def test_every_api_route_is_documented(app, document):
    documented = {
        (m.upper(), p) for p, item in document["paths"].items() for m in item if m in METHODS
    }
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len("/api/v1") :])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (method, path) not in documented:
                missing.append(f"{method} /api/v1{path}")
    assert missing == []


def test_validator_catches_broken_documents():
    doc = build_document(
        [{"/things/{thing_id}": {"get": {"operationId": "a", "responses": {"200": {"$ref": "#/components/responses/Nope"}}}},
          "/other": {"post": {"operationId": "a", "responses": {}}}}],
        [],
    )  # fmt: skip
    problems = structural_problems(doc)
    assert any("does not resolve" in p for p in problems)
    assert any("path parameter thing_id" in p for p in problems)
    assert any("duplicate operationId" in p for p in problems)


def test_modules_are_merged_and_conflicts_refused():
    part_a = {
        "/api/v1/a": {"get": {"operationId": "getA", "responses": {"200": {"description": "ok"}}}}
    }
    part_b = {
        "/b": {
            "post": {
                "operationId": "postB",
                "security": [],
                "responses": {"204": {"description": "ok"}},
            }
        }
    }
    doc = build_document([part_a, part_b], [{"Thing": {"type": "object"}}])
    assert set(doc["paths"]) == {"/a", "/b"}
    assert "401" in doc["paths"]["/a"]["get"]["responses"]  # standard errors added
    # Public: no 403, but 401 (a token sent along must be valid even there).
    assert "403" not in doc["paths"]["/b"]["post"]["responses"]
    assert "401" in doc["paths"]["/b"]["post"]["responses"]
    assert doc["components"]["schemas"]["Thing"] == {"type": "object"}
    assert structural_problems(doc) == []
    with pytest.raises(OpenApiConflict):
        build_document([part_a, {"/a": {"get": {"responses": {"200": {"description": "x"}}}}}], [])
    with pytest.raises(OpenApiConflict):
        build_document([], [{"Thing": {"type": "object"}}, {"Thing": {"type": "string"}}])


def _validator(document: dict[str, Any], schema_name: str) -> Draft202012Validator:
    registry = Registry().with_resource("urn:wellbeing:openapi", Resource.opaque(document))
    ref = f"urn:wellbeing:openapi#/components/schemas/{schema_name}"
    return Draft202012Validator({"$ref": ref}, registry=registry)


def test_real_answers_match_the_schemas(client, db_session, env, document):
    user = make_user(db_session, env.settings, "psych_teacher", school=make_school(db_session))
    new = create_api_token(
        db_session,
        build_principal(db_session, user),
        user,
        name="t",
        scopes=["alerts:read"],
        days=30,
    )
    by_token = client.application.test_client().get(
        "/api/v1/me", headers={"Authorization": f"Bearer {new.token}"}
    )
    assert by_token.get_json()["token"]["prefix"] == new.row.prefix
    assert list(_validator(document, "Me").iter_errors(by_token.get_json())) == []
    error = client.application.test_client().get("/api/v1/me").get_json()
    assert list(_validator(document, "Error").iter_errors(error)) == []
    assert list(_validator(document, "Error").iter_errors({"error": "flat"})) != []
    without_details = {"error": {"code": "x", "message": "y"}}
    assert list(_validator(document, "Error").iter_errors(without_details)) != []
