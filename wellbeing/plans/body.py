"""The body of a plan version (the JSON document ``models.py`` describes): an empty one, its
validation, the labels of its codes, and what counts as a *material* change.

:func:`validate` normalises what a form or the API sends: texts stripped and bounded, codes
checked against the lists in ``models.py``, dates ISO (``YYYY-MM-DD``), every item with an id
(a new item gets ``uuid4().hex``; ids are unique in their list, and a task's id is unique in the
whole plan because it is the key of the ``PlanTask`` it becomes), a goal's ``concern_ids`` naming
concerns of the same body. Keys it does not know are dropped. It raises :class:`PlanError` with
a translated message naming the field. Completeness (every concern has a goal, a red student's
safety step) and the rules that need the database (a staff adult is a user of the student's
school, the safety step's crisis is this student's) are checked by the services when a version
is saved.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask_babel import lazy_gettext as _l

from ..core.errors import DomainError
from .models import ADULT_ROLES, GOAL_ACHIEVEMENT, GOAL_LIFECYCLE, INTERVENTION_KINDS

MAX_TEXT = 2000  # a paragraph: summary, a goal, a description
MAX_SHORT = 200  # a line: a measure, a frequency, a name, a task's title
MAX_ITEMS = 30  # concerns, goals, interventions, adults
MAX_TASKS = 20  # tasks per adult
TEXT_FIELDS = ("summary", "protective_factors", "student_view", "guardian_involvement")


class PlanError(DomainError):
    code = "plan_refused"


# Every code shown to a person has a label.
GOAL_LIFECYCLE_LABELS: dict[str, Any] = {
    "proposed": _l("Proposed"),
    "active": _l("Being worked on"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
}
GOAL_ACHIEVEMENT_LABELS: dict[str, Any] = {
    "in_progress": _l("In progress"),
    "improving": _l("Improving"),
    "achieved": _l("Achieved"),
    "not_achieved": _l("Not achieved"),
    "worsening": _l("Worsening"),
}
INTERVENTION_LABELS: dict[str, Any] = {
    "individual_counselling": _l("Individual counselling"),
    "group": _l("Group counselling"),
    "mentor_checkin": _l("Mentor check-ins"),
    "family_meeting": _l("Family meeting"),
    "referral": _l("Referral"),
    "class_adjustment": _l("Class adjustment"),
    "other": _l("Other"),
}
ADULT_ROLE_LABELS: dict[str, Any] = {
    "psych_teacher": _l("Psychology teacher"),
    "class_teacher": _l("Class teacher"),
    "mentor": _l("Mentor"),
    "guardian": _l("Guardian"),
    "other": _l("Other"),
}
# The names of the body's fields, as messages and the comparison of versions show them.
FIELD_LABELS: dict[str, Any] = {
    "concerns": _l("Areas of concern"),
    "summary": _l("Summary of concerns"),
    "protective_factors": _l("Protective factors"),
    "student_view": _l("The student's view"),
    "student_agreed": _l("The student agreed to the plan"),
    "guardian_involvement": _l("Guardian involvement"),
    "goals": _l("Goals"),
    "interventions": _l("Interventions"),
    "adults": _l("Responsible adults"),
    "tasks": _l("Tasks"),
    "safety_crisis_id": _l("Safety step"),
    "review_due": _l("Next review"),
    "text": _l("Text"),
    "concern_id": _l("Linked concern"),
    "measure": _l("Measure"),
    "target_date": _l("Target date"),
    "lifecycle": _l("Status"),
    "achievement": _l("Progress"),
    "concern_ids": _l("Concerns it answers"),
    "kind": _l("Kind"),
    "description": _l("Description"),
    "frequency": _l("Frequency"),
    "who": _l("Who does it"),
    "user_id": _l("Staff member"),
    "name": _l("Name"),
    "role": _l("Role"),
    "title": _l("Task"),
    "due": _l("Due"),
}
CODE_LABELS: dict[str, dict[str, Any]] = {
    "lifecycle": GOAL_LIFECYCLE_LABELS,
    "achievement": GOAL_ACHIEVEMENT_LABELS,
    "kind": INTERVENTION_LABELS,
    "role": ADULT_ROLE_LABELS,
}


def empty_body() -> dict[str, Any]:
    """A plan with nothing written yet (the shape :func:`validate` returns)."""
    return {
        "concerns": [], "summary": "", "protective_factors": "", "student_view": "",
        "student_agreed": None, "guardian_involvement": "", "goals": [], "interventions": [],
        "adults": [], "safety_crisis_id": None, "review_due": None,
    }  # fmt: skip


def _err(template: Any, field: str, **params: Any) -> PlanError:
    return PlanError(template, field=FIELD_LABELS.get(field, field), **params)


def _text(value: Any, field: str, limit: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _err(_l("%(field)s must be text."), field)
    value = value.strip()
    if len(value) > limit:
        raise _err(_l("%(field)s is longer than %(n)s characters."), field, n=limit)
    if required and not value:
        raise _err(_l("%(field)s is empty: write it or remove the item."), field)
    return value


def _code(value: Any, field: str, codes: tuple[str, ...], default: str | None = None) -> str:
    if (value is None or value == "") and default is not None:
        return default
    if value not in codes:
        raise _err(_l("Choose a value for %(field)s from the list."), field)
    return str(value)


def _date(value: Any, field: str, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise _err(_l("%(field)s needs a date."), field)
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise _err(_l("%(field)s is not a date (YYYY-MM-DD)."), field) from None


def _uuid_hex(value: Any, field: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return uuid.UUID(str(value)).hex
    except ValueError:
        raise _err(_l("%(field)s is not valid."), field) from None


def _items(body: dict[str, Any], field: str, limit: int = MAX_ITEMS) -> list[dict[str, Any]]:
    value = body.get(field) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _err(_l("%(field)s is not a list."), field)
    if len(value) > limit:
        raise _err(_l("%(field)s has more than %(n)s items."), field, n=limit)
    return value


def _id(item: dict[str, Any], field: str, seen: set[str]) -> str:
    value = item.get("id")
    if value is None or value == "":
        value = uuid.uuid4().hex
    if not isinstance(value, str) or len(value) > 36 or not value.replace("-", "").isalnum():
        raise _err(_l("%(field)s: an item has an invalid id."), field)
    if value in seen:
        raise _err(_l("%(field)s: two items have the same id."), field)
    seen.add(value)
    return value


def validate(body: dict[str, Any] | None) -> dict[str, Any]:
    """The body normalised (a new dict), or :class:`PlanError` naming the field at fault."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise PlanError(_l("The plan is not in the expected form."))
    out = empty_body()
    for field in TEXT_FIELDS:
        out[field] = _text(body.get(field), field, MAX_TEXT)
    agreed = body.get("student_agreed")
    if agreed not in (None, True, False):
        raise _err(_l("Choose a value for %(field)s from the list."), "student_agreed")
    out["student_agreed"] = agreed
    seen: set[str] = set()
    out["concerns"] = [
        {"id": _id(c, "concerns", seen), "text": _text(c.get("text"), "concerns", MAX_TEXT,
                                                       required=True),
         "concern_id": _uuid_hex(c.get("concern_id"), "concern_id")}
        for c in _items(body, "concerns")
    ]  # fmt: skip
    concern_ids = {c["id"] for c in out["concerns"]}
    seen = set()
    for g in _items(body, "goals"):
        links = g.get("concern_ids") or []
        if not isinstance(links, list) or any(link not in concern_ids for link in links):
            raise _err(_l("%(field)s: a goal names a concern the plan does not list."), "goals")
        out["goals"].append({
            "id": _id(g, "goals", seen),
            "text": _text(g.get("text"), "goals", MAX_TEXT, required=True),
            "measure": _text(g.get("measure"), "measure", MAX_SHORT),
            "target_date": _date(g.get("target_date"), "target_date"),
            "lifecycle": _code(g.get("lifecycle"), "lifecycle", GOAL_LIFECYCLE, "active"),
            "achievement": _code(g.get("achievement"), "achievement", GOAL_ACHIEVEMENT,
                                 "in_progress"),
            "concern_ids": sorted(set(links)),
        })  # fmt: skip
    seen = set()
    out["interventions"] = [
        {"id": _id(i, "interventions", seen), "kind": _code(i.get("kind"), "kind", INTERVENTION_KINDS),
         "description": _text(i.get("description"), "description", MAX_TEXT),
         "frequency": _text(i.get("frequency"), "frequency", MAX_SHORT),
         "who": _text(i.get("who"), "who", MAX_SHORT)}
        for i in _items(body, "interventions")
    ]  # fmt: skip
    out["adults"] = _adults(body)
    out["safety_crisis_id"] = _uuid_hex(body.get("safety_crisis_id"), "safety_crisis_id")
    out["review_due"] = _date(body.get("review_due"), "review_due")
    return out


def _adults(body: dict[str, Any]) -> list[dict[str, Any]]:
    adults: list[dict[str, Any]] = []
    seen: set[str] = set()
    task_ids: set[str] = set()  # unique in the plan: a task's id is its PlanTask's key
    for a in _items(body, "adults"):
        role = _code(a.get("role"), "role", ADULT_ROLES)
        user_id = _uuid_hex(a.get("user_id"), "user_id")
        name = _text(a.get("name"), "name", MAX_SHORT)
        if user_id is None and not name:
            raise _err(_l("%(field)s: name the adult or choose a staff member."), "adults")
        if user_id is not None and role == "guardian":
            raise _err(_l("%(field)s: a guardian is not a staff member."), "adults")
        tasks = [
            {"id": _id(t, "tasks", task_ids),
             "title": _text(t.get("title"), "title", MAX_SHORT, required=True),
             "due": _date(t.get("due"), "due", required=True)}
            for t in _items(a, "tasks", MAX_TASKS)
        ]  # fmt: skip
        adults.append(
            {"id": _id(a, "adults", seen), "user_id": user_id, "name": name, "role": role,
             "tasks": tasks}
        )  # fmt: skip
    return adults


def _without(items: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k not in keys} for item in items]


def material(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Do two bodies differ in what a sign-off vouches for?

    Material (issue 14 §3: "goals, interventions, responsible adults or the safety step"):
    adding, removing or changing a goal's text, measure, target date, lifecycle status or linked
    concerns; any change to an intervention; any change to a responsible adult, including their
    tasks; a different linked safety step (``safety_crisis_id``). Lists are compared in order
    (the order a plan is read in is part of what was signed; forms keep it).

    Not material: the summary, protective factors, the student's view and agreement, guardian
    involvement, the list of concerns (a concern without a goal cannot be submitted, and a new
    goal for it is material), the review date, and a goal's *achievement* status, which is
    progress recorded against the plan rather than a change of the plan (FHIR Goal keeps
    lifecycleStatus and achievementStatus apart for this reason).

    ``None`` (no version signed yet) is material against anything. Both bodies are validated
    ones (as stored); nothing here generates ids.
    """
    if a is None or b is None:
        return True

    def part(body: dict[str, Any], key: str) -> Any:
        return body.get(key) or ([] if key != "safety_crisis_id" else None)

    return (
        _without(part(a, "goals"), "achievement") != _without(part(b, "goals"), "achievement")
        or part(a, "interventions") != part(b, "interventions")
        or part(a, "adults") != part(b, "adults")
        or part(a, "safety_crisis_id") != part(b, "safety_crisis_id")
    )


def label_code(field: str, code: Any) -> Any:
    """The label of a code (``lifecycle``, ``achievement``, ``kind``, ``role``), else the value."""
    labels = CODE_LABELS.get(field)
    if labels is None or code is None:
        return code
    return labels.get(str(code), code)


__all__ = [
    "ADULT_ROLE_LABELS", "CODE_LABELS", "FIELD_LABELS", "GOAL_ACHIEVEMENT_LABELS",
    "GOAL_LIFECYCLE_LABELS", "INTERVENTION_LABELS", "MAX_ITEMS", "MAX_SHORT", "MAX_TASKS",
    "MAX_TEXT", "PlanError", "empty_body", "label_code", "material", "validate",
]  # fmt: skip
