"""``wellbeing.modules`` lists exactly the domain packages that exist, and every contribution
of a module (record sections, jobs, CLI groups, blueprints, menu entries) is found there, one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from wellbeing import modules
from wellbeing.students import record

PACKAGE = Path(modules.__file__).resolve().parent
NOT_MODULES = {"core"}  # the ground floor: shared code, not a module


def _packages() -> set[str]:
    return {p.parent.name for p in PACKAGE.glob("*/__init__.py")}


def test_every_listed_module_exists() -> None:
    for name in modules.MODULES:
        assert (PACKAGE / name / "__init__.py").is_file(), name
        assert modules.package(name).__name__ == f"wellbeing.{name}"
    assert len(set(modules.MODULES)) == len(modules.MODULES)


def test_every_package_with_parts_is_listed() -> None:
    with_parts = {
        name
        for name in _packages() - NOT_MODULES
        if any((PACKAGE / name / f"{kind}.py").is_file() for kind in modules.PARTS)
    }
    assert with_parts - set(modules.MODULES) == set()
    assert _packages() - set(modules.MODULES) <= NOT_MODULES


def test_a_missing_module_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(modules, "MODULES", (*modules.MODULES, "nosuchmodule"))
    with pytest.raises(
        modules.MissingModule, match=r"'nosuchmodule'.*wellbeing/nosuchmodule/ does not exist"
    ):
        modules.import_models()


def test_absent_parts_contribute_nothing_and_unknown_parts_are_refused() -> None:
    assert modules.part("keys", "views") is None  # keys has no pages
    assert modules.part("orgs", "models") is not None
    with pytest.raises(ValueError, match="unknown module part"):
        modules.part("orgs", "nonsense")


def test_parts_come_in_module_order() -> None:
    names = [m.__name__.split(".")[1] for m in modules.parts("models")]
    assert names == sorted(names, key=modules.MODULES.index)


def test_every_record_section_is_declared_in_its_modules_record_file() -> None:
    modules.import_services()
    assert {"identity", "tier", "screening", "crisis", "followups"} <= set(record.SECTIONS)
    for entry in record.ordered_sections():
        owner = entry.render.__module__
        if owner.startswith("tests."):
            continue  # a test's own section
        parts = owner.split(".")
        assert parts[0] == "wellbeing" and parts[1] in modules.MODULES, (entry.name, owner)
        assert parts[2:] == ["record"], f"section {entry.name!r} is registered in {owner}"


def _names_imported(path: Path) -> set[tuple[str, str]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {(node.module, alias.name) for alias in node.names}
    return found


def _assigned(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }


def test_contributions_live_only_in_their_part_files() -> None:
    """``@section`` is used only in ``record.py``, ``JOBS`` only in ``jobs.py``, ``NAV`` and
    ``NavItem`` only in ``nav.py``: one place each."""
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name not in modules.MODULES:
            continue
        if path.name != "record.py":
            uses_section = any(
                module.endswith("students.record") and name == "section"
                for module, name in _names_imported(path)
            )
            assert not uses_section, f"{path}: declare record sections in the module's record.py"
        if path.name != "jobs.py":
            assert "JOBS" not in _assigned(path), f"{path}: declare jobs in the module's jobs.py"
        if path.name != "nav.py":
            assert "NAV" not in _assigned(path), f"{path}: declare menu entries in nav.py"
            uses_nav_item = any(
                module.endswith("ui") and name == "NavItem"
                for module, name in _names_imported(path)
            )
            assert not uses_nav_item, f"{path}: declare menu entries in the module's nav.py"


def test_menu_entries_are_found_in_nav_files_only() -> None:
    """The menu is every module's ``nav.py`` ``NAV``; nothing else registers an entry."""
    from wellbeing import ui

    assert not hasattr(ui, "NAV") and not hasattr(ui, "nav_item")
    items = ui.collect_nav()
    endpoints = [item.endpoint for item in items]
    assert {"workbench.home", "alerts.inbox", "students.search_form", "auth.account"} <= set(
        endpoints
    )
    assert len(endpoints) == len(set(endpoints))
    assert [item.order for item in items] == sorted(item.order for item in items)
    declared_in = {m.__name__ for m in modules.parts("nav")}
    assert declared_in and all(name.endswith(".nav") for name in declared_in)
    with pytest.raises(ValueError, match="unknown navigation group"):
        ui.NavItem("x.y", "X", items[0].permission, group="nonsense")


def test_jobs_and_cli_groups_are_found() -> None:
    from wellbeing.core.scheduler import collect_jobs

    ids = {job.id for job in collect_jobs()}
    assert {"alerts.escalation_scan", "notify.send_outbox"} <= ids
    groups = list(modules.iter_parts("cli", "group"))
    assert groups and all(hasattr(g, "commands") for g in groups)


def test_timeline_kinds_are_found_in_timeline_files_only() -> None:
    """The growth-record timeline is every module's ``timeline.py``: ``KINDS`` (each kind named
    by one module) and ``items``; nothing else contributes to it."""
    from wellbeing.students import timeline

    kinds = timeline.kinds()
    assert {
        "screening", "tier", "concern", "hotline", "alert", "crisis", "followup", "guardian_contact",
    } <= set(kinds)  # fmt: skip
    # students/timeline.py holds the types and the page's collection: it contributes no items.
    declared_in = [m.__name__ for m in modules.parts("timeline") if hasattr(m, "items")]
    assert declared_in and all(name.endswith(".timeline") for name in declared_in)
    assert not hasattr(timeline, "items") and not hasattr(timeline, "KINDS")
    names = [name.split(".")[1] for name in declared_in]
    assert names == sorted(names, key=modules.MODULES.index)
    owners = [contribute.__module__ for _kinds, contribute in timeline.contributors()]
    assert owners == declared_in
