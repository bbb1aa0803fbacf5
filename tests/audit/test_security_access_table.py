"""SECURITY.md's "Who can read what" table stays true to the access policy (issue 12, item 13)."""

from __future__ import annotations

import re
from pathlib import Path

from wellbeing.core.authz import ROLE_PERMISSIONS, Permission, Role

SECURITY = Path(__file__).resolve().parents[2] / "SECURITY.md"
P = Permission
# Column → the permissions that make it "yes" (any of them).
COLUMNS = (
    ("case content in scope", {P.RECORD_READ}),
    ("screening answers", {P.SCREENING_READ}),
    ("restricted notes", {P.NOTES_READ_RESTRICTED}),
    ("outside their scope", {P.BREAK_GLASS}),
    ("downloads and exports", {P.SCREENING_READ, P.AUDIT_EXPORT}),
    ("audit trail", {P.AUDIT_READ}),
    ("statistics", {P.STATS_SCHOOL, P.STATS_DISTRICT}),
)


def _table() -> tuple[list[str], dict[str, list[str]]]:
    text = SECURITY.read_text(encoding="utf-8")
    section = text.split("## Who can read what", 1)[1].split("\n## ", 1)[0]
    header: list[str] = []
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| role"):
            header = cells[1:]
        match = re.match(r"^`([a-z_]+)`$", cells[0]) if line.startswith("|") else None
        if match:
            rows[match.group(1)] = cells[1:]
    return header, rows


def test_the_access_table_matches_the_policy():
    header, rows = _table()
    assert header == [name for name, _perms in COLUMNS]
    assert set(rows) == {str(role) for role in Role}
    wrong = []
    for role in Role:
        granted = ROLE_PERMISSIONS[role]
        for (name, perms), cell in zip(COLUMNS, rows[str(role)], strict=True):
            says_yes = not cell.lower().startswith("no")
            if says_yes != bool(granted & perms):
                wrong.append(f"{role} / {name}: {cell!r}")
    assert wrong == []


def test_the_table_says_supervisors_break_glass_needs_the_district_policy():
    _header, rows = _table()
    cell = rows["supervisor"][3]
    assert "policy" in cell and "off by default" in cell
