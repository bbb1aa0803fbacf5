"""Every route declares a permission, and every route has a row in some authorization matrix."""

import importlib
import pkgutil

import tests


def _all_cases():
    cases = []
    for info in pkgutil.walk_packages(tests.__path__, "tests."):
        if info.name.rsplit(".", 1)[-1].startswith("test_authz_"):
            cases.extend(importlib.import_module(info.name).CASES)
    return cases


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_declares_a_permission(app):
    missing = [
        rule.rule
        for rule, _ in _routes(app)
        if not hasattr(app.view_functions[rule.endpoint], "permission")
    ]
    assert missing == []


def test_every_route_is_in_an_authorization_matrix(app):
    covered = {(case.method, case.rule) for case in _all_cases()}
    uncovered = [
        f"{method} {rule.rule}"
        for rule, method in _routes(app)
        if (method, rule.rule) not in covered
    ]
    assert uncovered == []


def test_matrix_rows_name_real_routes(app):
    real = {(method, rule.rule) for rule, method in _routes(app)}
    stale = [f"{c.method} {c.rule}" for c in _all_cases() if (c.method, c.rule) not in real]
    assert stale == []
