"""Comparing two versions of a plan field by field (issue 14 §3: "what was added, removed,
changed").

Scalar fields (summary, protective factors, the student's view and agreement, guardian
involvement, the safety step, the review date) are compared as values. Lists (concerns, goals,
interventions, adults, and each adult's tasks) are matched by item id: an id only in the new
body is *added*, only in the old one *removed*, in both with a different sub-field *changed*
(one change per sub-field). Values come back human-readable: codes as their labels, a goal's
linked concerns as those concerns' texts, booleans as yes/no; the caller renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from babel.lists import format_list
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from .body import FIELD_LABELS, TEXT_FIELDS, label_code

ChangeKind = Literal["added", "removed", "changed"]
LISTS = ("concerns", "goals", "interventions", "adults")
# The sub-field that names an item (shown as ``item``) and the sub-fields compared.
ITEM_NAME = {"concerns": "text", "goals": "text", "interventions": "kind", "adults": "name"}
ITEM_FIELDS = {
    "concerns": ("text",),
    "goals": ("text", "measure", "target_date", "lifecycle", "achievement", "concern_ids"),
    "interventions": ("kind", "description", "frequency", "who"),
    "adults": ("name", "role", "user_id"),
    "tasks": ("title", "due"),
}


@dataclass(frozen=True)
class FieldChange:
    field: str  # "summary", "goals.measure", "adults.tasks"...
    label: Any  # LazyString: the field's name for people
    item: str | None  # which item of a list (its name), None for a scalar field
    kind: ChangeKind
    before: str | None
    after: str | None


def _show(field: str, value: Any, body: dict[str, Any]) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        return str(_l("Yes") if value else _l("No"))
    if field == "concern_ids":
        texts = {c["id"]: c.get("text", "") for c in body.get("concerns") or []}
        return format_list([texts.get(i, "") for i in value], locale=get_locale())
    if field == "user_id":
        return str(value)  # the caller may replace it with the person's name
    return str(label_code(field, value))


def _name(kind: str, item: dict[str, Any]) -> str:
    key = ITEM_NAME.get(kind, "title")
    value = item.get(key) or ""
    if kind == "adults" and not value:
        value = str(label_code("role", item.get("role")))
    return str(label_code(key, value))[:80]


def _label(field: str) -> Any:
    return FIELD_LABELS.get(field.rsplit(".", 1)[-1], field)


def _compare_items(
    kind: str,
    old_items: list[dict[str, Any]],
    new_items: list[dict[str, Any]],
    old: dict[str, Any],
    new: dict[str, Any],
    prefix: str = "",
) -> list[FieldChange]:
    field = f"{prefix}{kind}"
    before = {i["id"]: i for i in old_items}
    after = {i["id"]: i for i in new_items}
    changes: list[FieldChange] = []
    for item in new_items:
        if item["id"] not in before:
            changes.append(
                FieldChange(field, _label(kind), _name(kind, item), "added", None,
                            _name(kind, item))
            )  # fmt: skip
    for item in old_items:
        if item["id"] not in after:
            changes.append(
                FieldChange(field, _label(kind), _name(kind, item), "removed",
                            _name(kind, item), None)
            )  # fmt: skip
    for item in new_items:
        was = before.get(item["id"])
        if was is None:
            continue
        for sub in ITEM_FIELDS[kind]:
            a, b = _show(sub, was.get(sub), old), _show(sub, item.get(sub), new)
            if a != b:
                changes.append(
                    FieldChange(f"{field}.{sub}", _label(sub), _name(kind, item), "changed", a, b)
                )
        if kind == "adults":
            changes.extend(
                _compare_items("tasks", was.get("tasks") or [], item.get("tasks") or [], old, new,
                               prefix="adults.")
            )  # fmt: skip
    return changes


def compare(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[FieldChange]:
    """What changed from ``old`` to ``new`` (validated bodies; ``None`` is an empty plan)."""
    old, new = old or {}, new or {}
    changes: list[FieldChange] = []
    for field in (*TEXT_FIELDS, "student_agreed", "safety_crisis_id", "review_due"):
        a, b = _show(field, old.get(field), old), _show(field, new.get(field), new)
        if a == b:
            continue
        kind: ChangeKind = "added" if a is None else "removed" if b is None else "changed"
        changes.append(FieldChange(field, _label(field), None, kind, a, b))
    for kind_name in LISTS:
        changes.extend(
            _compare_items(kind_name, old.get(kind_name) or [], new.get(kind_name) or [], old, new)
        )
    return changes


__all__ = ["FieldChange", "compare"]
