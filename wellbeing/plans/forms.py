"""Forms of the plan pages: the editor (rows of concerns, goals, interventions and responsible
adults with their tasks, as WTForms ``FieldList``s: the shell has no script, so "add a goal" and
"remove" are submit buttons that save the draft and show the editor again), a return's or a
closing's reason, and the bare buttons (sign off, start a review: the CSRF token only).

Shape only: what a plan must hold before it is submitted is ``plans.body.validate`` and the
services' completeness rule."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from ..core.forms import MultiCheckboxField
from ..students.forms import PlainDateField
from .body import (
    ADULT_ROLE_LABELS,
    GOAL_ACHIEVEMENT_LABELS,
    GOAL_LIFECYCLE_LABELS,
    INTERVENTION_LABELS,
    MAX_SHORT,
    MAX_TEXT,
    TEXT_FIELDS,
)

# People's names of the codes a plan stores (never shown raw): ``plans.body``'s.
LIFECYCLE_LABELS = GOAL_LIFECYCLE_LABELS
ACHIEVEMENT_LABELS = GOAL_ACHIEVEMENT_LABELS
ROLE_LABELS = ADULT_ROLE_LABELS
MAX_LINE = MAX_SHORT

# The "who" select of a responsible adult: a member of staff ("user:<id>") or this value, for a
# guardian or an outside person whose name is typed.
OUTSIDE = "outside"


class ConcernRow(Form):
    id = HiddenField()
    concern_id = HiddenField()
    text = TextAreaField(_l("Area of concern"), validators=[Optional(), Length(max=MAX_TEXT)])


class GoalRow(Form):
    id = HiddenField()
    text = TextAreaField(_l("Goal"), validators=[Optional(), Length(max=MAX_TEXT)])
    measure = StringField(_l("How we will know"), validators=[Optional(), Length(max=MAX_LINE)])
    target_date = PlainDateField(_l("Target date"), validators=[Optional()])
    lifecycle = SelectField(
        _l("Goal status"), choices=list(LIFECYCLE_LABELS.items()), default="active"
    )
    achievement = SelectField(
        _l("Progress"), choices=list(ACHIEVEMENT_LABELS.items()), default="in_progress"
    )
    concern_ids = MultiCheckboxField(_l("Concerns this goal answers"), choices=[])


class InterventionRow(Form):
    id = HiddenField()
    kind = SelectField(_l("Kind of support"), choices=list(INTERVENTION_LABELS.items()))
    description = TextAreaField(_l("What is done"), validators=[Optional(), Length(max=MAX_TEXT)])
    frequency = StringField(_l("How often"), validators=[Optional(), Length(max=MAX_LINE)])
    who = StringField(_l("Who does it"), validators=[Optional(), Length(max=MAX_LINE)])


class TaskRow(Form):
    id = HiddenField()
    title = StringField(_l("Task"), validators=[Optional(), Length(max=MAX_LINE)])
    due = PlainDateField(_l("Due date"), validators=[Optional()])


class AdultRow(Form):
    id = HiddenField()
    person = SelectField(_l("Who"), choices=[])
    name = StringField(
        _l("Name (a guardian or someone outside the school)"),
        validators=[Optional(), Length(max=MAX_LINE)],
    )
    role = SelectField(_l("Role in the plan"), choices=list(ROLE_LABELS.items()))
    tasks = FieldList(FormField(TaskRow), min_entries=0)


class PlanForm(FlaskForm):
    concerns = FieldList(FormField(ConcernRow), min_entries=0)
    summary = TextAreaField(
        _l("Summary of concerns"), validators=[Optional(), Length(max=MAX_TEXT)]
    )
    protective_factors = TextAreaField(
        _l("Protective factors"), validators=[Optional(), Length(max=MAX_TEXT)]
    )
    student_view = TextAreaField(
        _l("The student's own view"), validators=[Optional(), Length(max=MAX_TEXT)]
    )
    student_agreed = BooleanField(_l("The student agreed to the plan"))
    guardian_involvement = TextAreaField(
        _l("Guardian involvement"), validators=[Optional(), Length(max=MAX_TEXT)]
    )
    safety_crisis_id = SelectField(
        _l("Safety step"), choices=[],
        description=_l("The safety plan made in a crisis checklist: the plan links it, it "
                       "does not copy it."),
    )  # fmt: skip
    review_due = PlainDateField(
        _l("Next review"), validators=[Optional()],
        description=_l("Left empty, it is set from the student's tier."),
    )  # fmt: skip
    goals = FieldList(FormField(GoalRow), min_entries=0)
    interventions = FieldList(FormField(InterventionRow), min_entries=0)
    adults = FieldList(FormField(AdultRow), min_entries=0)


class ReasonForm(FlaskForm):
    """Returning a version to its author, or closing a plan: a reason is required."""

    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(message=_l("Write the reason.")), Length(max=MAX_TEXT)],
    )


class ButtonForm(FlaskForm):
    """A button that needs no input (the CSRF token only)."""


# ------------------------------------------------------------------ body <-> form


def new_id() -> str:
    return str(uuid.uuid4())


def _day(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def form_data(body: dict[str, Any]) -> dict[str, Any]:
    """The editor's data for a plan body (dates as dates, the adult's "who" select)."""
    adults = []
    for adult in body.get("adults") or []:
        user_id = adult.get("user_id")
        adults.append(
            {
                **adult,
                "person": f"user:{user_id}" if user_id else OUTSIDE,
                "name": "" if user_id else adult.get("name") or "",
                "tasks": [{**t, "due": _day(t.get("due"))} for t in adult.get("tasks") or []],
            }
        )
    return {
        **{key: body.get(key) for key in TEXTS},
        "student_agreed": bool(body.get("student_agreed")),
        "safety_crisis_id": body.get("safety_crisis_id") or "",
        "review_due": _day(body.get("review_due")),
        "concerns": [dict(c) for c in body.get("concerns") or []],
        "goals": [
            {
                **g,
                "target_date": _day(g.get("target_date")),
                "concern_ids": g.get("concern_ids") or [],
            }
            for g in body.get("goals") or []
        ],
        "interventions": [dict(i) for i in body.get("interventions") or []],
        "adults": adults,
    }


TEXTS = TEXT_FIELDS


def body_of(form: PlanForm, staff: dict[str, str]) -> dict[str, Any]:
    """The plan body the editor holds as typed (``staff``: user id -> display name). A row
    without an id (it should not happen: rows are added by the server) gets one."""
    concerns = [
        {"id": row.id.data or new_id(), "text": (row.text.data or "").strip(),
         "concern_id": row.concern_id.data or None}
        for row in (entry.form for entry in form.concerns)
    ]  # fmt: skip
    goals = [
        {"id": row.id.data or new_id(), "text": (row.text.data or "").strip(),
         "measure": (row.measure.data or "").strip(), "target_date": _iso(row.target_date.data),
         "lifecycle": row.lifecycle.data, "achievement": row.achievement.data,
         "concern_ids": list(row.concern_ids.data or [])}
        for row in (entry.form for entry in form.goals)
    ]  # fmt: skip
    interventions = [
        {"id": row.id.data or new_id(), "kind": row.kind.data,
         "description": (row.description.data or "").strip(),
         "frequency": (row.frequency.data or "").strip(), "who": (row.who.data or "").strip()}
        for row in (entry.form for entry in form.interventions)
    ]  # fmt: skip
    adults = []
    for row in (entry.form for entry in form.adults):
        person = row.person.data or ""
        user_id = person.removeprefix("user:") if person.startswith("user:") else None
        adults.append(
            {
                "id": row.id.data or new_id(),
                "user_id": user_id,
                "name": staff.get(user_id, "") if user_id else (row.name.data or "").strip(),
                "role": row.role.data,
                "tasks": [
                    {"id": t.id.data or new_id(), "title": (t.title.data or "").strip(),
                     "due": _iso(t.due.data)}
                    for t in (task.form for task in row.tasks)
                ],
            }
        )  # fmt: skip
    return {
        **{key: (getattr(form, key).data or "").strip() for key in TEXTS},
        "student_agreed": bool(form.student_agreed.data),
        "safety_crisis_id": form.safety_crisis_id.data or None,
        "review_due": _iso(form.review_due.data),
        "concerns": concerns,
        "goals": goals,
        "interventions": interventions,
        "adults": adults,
    }


def new_row(kind: str) -> dict[str, Any]:
    """An empty row of the editor (what "add a goal" and its kin append to the draft)."""
    rows: dict[str, dict[str, Any]] = {
        "concerns": {"text": "", "concern_id": None},
        "goals": {"text": "", "measure": "", "target_date": None, "lifecycle": "active",
                  "achievement": "in_progress", "concern_ids": []},
        "interventions": {"kind": "individual_counselling", "description": "", "frequency": "",
                          "who": ""},
        "adults": {"user_id": None, "name": "", "role": "class_teacher", "tasks": []},
        "tasks": {"title": "", "due": None},
    }  # fmt: skip
    return {"id": new_id(), **rows[kind]}


def change_rows(body: dict[str, Any], action: str) -> bool:
    """Apply an editor button (``add:goals``, ``remove:goals:2``, ``add:tasks:0``,
    ``remove:tasks:0:1``) to ``body``; False when the action is not one of them. An added row
    is empty: it is shown, and saved once something is typed into it (:func:`drop_empty`)."""
    parts = action.split(":")
    try:
        verb, kind, *where = parts[0], parts[1], *(int(p) for p in parts[2:])
    except (IndexError, ValueError):
        return False
    if kind == "tasks":
        adults = body.get("adults") or []
        if not where or not 0 <= where[0] < len(adults):
            return False
        rows, where = adults[where[0]].setdefault("tasks", []), where[1:]
    elif kind in ("concerns", "goals", "interventions", "adults"):
        rows = body.setdefault(kind, [])
    else:
        return False
    if verb == "add" and not where:
        rows.append(new_row(kind))
        return True
    if verb == "remove" and len(where) == 1 and 0 <= where[0] < len(rows):
        removed = rows.pop(where[0])
        if kind == "concerns":  # a goal no longer answers a concern that is gone
            for goal in body.get("goals") or []:
                ids = goal.get("concern_ids") or []
                goal["concern_ids"] = [i for i in ids if i != removed.get("id")]
        return True
    return False


def drop_empty(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` without the rows nothing was typed into (a row added and left blank is not an
    item of the plan: saving it would only fail the plan's validation)."""

    def typed(item: dict[str, Any], *keys: str) -> bool:
        return any(item.get(key) for key in keys)

    for adult in body.get("adults") or []:
        adult["tasks"] = [t for t in adult.get("tasks") or [] if typed(t, "title", "due")]
    body["concerns"] = [c for c in body.get("concerns") or [] if typed(c, "text")]
    body["goals"] = [
        g for g in body.get("goals") or [] if typed(g, "text", "measure", "target_date")
    ]
    body["interventions"] = [
        i for i in body.get("interventions") or [] if typed(i, "description", "frequency", "who")
    ]
    body["adults"] = [a for a in body.get("adults") or [] if typed(a, "user_id", "name", "tasks")]
    return body
