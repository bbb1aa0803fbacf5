"""SECURITY.md stays true to the code: every encrypted field is in the data inventory."""

from __future__ import annotations

import re
from pathlib import Path

from wellbeing import modules
from wellbeing.core.fields import encrypted_fields

SECURITY = Path(__file__).resolve().parents[1] / "SECURITY.md"


def _inventory_rows() -> dict[str, str]:
    rows = {}
    for line in SECURITY.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\|\s*([a-z_]+\.[a-z_]+)\s*\|\s*([^|]+)\|", line)
        if match and match.group(1) != "table.column":
            rows[match.group(1)] = match.group(2).strip()
    return rows


def test_every_encrypted_field_is_in_the_inventory():
    modules.import_models()
    rows = _inventory_rows()
    fields = {f"{model.__tablename__}.{field.name}" for model, field in encrypted_fields()
              if model.__module__.startswith("wellbeing.")}  # fmt: skip
    missing = sorted(name for name in fields if name not in rows)
    wrong = sorted(name for name in fields if name in rows and not rows[name].startswith("yes"))
    assert missing == [], f"add these encrypted fields to SECURITY.md's data inventory: {missing}"
    assert wrong == []


def test_the_inventory_names_no_field_that_does_not_exist():
    modules.import_models()
    from wellbeing.db import Base

    columns = {
        f"{t.name}.{c.name.removesuffix('_ct')}"
        for t in Base.metadata.tables.values()
        for c in t.columns
    }
    stale = sorted(name for name in _inventory_rows() if name not in columns and "*" not in name)
    assert stale == []
