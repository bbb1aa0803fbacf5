""" "My tasks" (``/tasks``): the signed-in person's tasks from plans, and marking one done.

A second blueprint of the plans module (``tasks_bp``, endpoints ``tasks.*``) beside the plan
pages' ``views.bp``: the app registers it with the module's blueprints. Everyone with
``TASKS_OWN`` (psychology teachers, class teachers and mentors, leaders, counsellors) has the
page; what it lists is their own (``task_queries``: assigned to them, or for psychology
teachers the unassigned tasks of their school: guardians', outside people's, plan writing).

Least data: a task shows its title, due date, whether it is overdue and the student (the chip:
a plain name to someone who may not open the record). Nothing else of the plan or the record
is read here: no tier, no goals, no notes. A task that is not the viewer's answers 404 like an
unknown one.
"""

from __future__ import annotations

import datetime as dt
import uuid

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission
from ..core.errors import DomainError
from ..db import get_session, utcnow
from ..students.chip import chip_fields
from ..web import require
from . import task_queries, tasks
from .body import MAX_TEXT
from .models import TaskState

tasks_bp = Blueprint("tasks", __name__)

NOTE_MAX = MAX_TEXT // 4  # what tasks.complete_task accepts


class DoneForm(FlaskForm):
    note = TextAreaField(
        _l("Note"),
        validators=[DataRequired(message=_l("Write a short note.")), Length(max=NOTE_MAX)],
        description=_l(
            "What was done, in a sentence or two. Only people working on the plan read it."
        ),
        render_kw={"rows": 3, "maxlength": NOTE_MAX},
    )


def _today() -> dt.date:
    settings = current_app.extensions["wellbeing.settings"]
    day: dt.date = utcnow().astimezone(settings.tz).date()
    return day


def _fields(rows: list[task_queries.TaskRow]) -> list[str]:
    """The audit field names a list of task rows shows (never a value)."""
    names = ["task.title", "task.due_date"] if rows else []
    if any(r.task.done_note_ct is not None for r in rows):
        names.append("task.done_note")
    if any(r.task.external_ct is not None for r in rows):
        names.append("task.external")
    return names


def _audit(rows: list[task_queries.TaskRow], task_id: uuid.UUID | None = None) -> None:
    students = list({r.student.id: r.student for r in rows}.values())
    only = rows[0] if task_id is not None and rows else None
    audit.record(
        get_session(), AuditAction.TASK_VIEW, object_type="plan_task", object_id=task_id,
        student_id=only.student.id if only else None,
        school_id=only.task.school_id if only else None,
        fields=_fields(rows) + chip_fields(g.principal, students),
        detail={"students": sorted((s.id for s in students), key=str), "count": len(rows)},
    )  # fmt: skip


@tasks_bp.get("/tasks")
@require(Permission.TASKS_OWN, sensitive=True)
def mine() -> ResponseReturnValue:
    session = get_session()
    today = _today()
    found = task_queries.my_tasks(session, g.principal, utcnow(), today)
    _audit(found.rows)
    names = task_queries.user_names(
        session, {r.task.assignee_id for r in found.assigned_overdue if r.task.assignee_id}
    )
    return render_template(
        "plans/tasks/mine.html",
        found=found,
        today=today,
        kinds=tasks.TASK_KIND_LABELS,
        title=tasks.display_title,
        names=names,
    )


def _own_task(task_id: uuid.UUID) -> task_queries.TaskRow:
    row = task_queries.get_task(get_session(), task_id)
    if row is None or not task_queries.is_owner(g.principal, row.task):
        abort(404)  # someone else's task answers like an unknown one
    return row


@tasks_bp.route("/tasks/<uuid:task_id>/done", methods=["GET", "POST"])
@require(Permission.TASKS_OWN, sensitive=True)
def done(task_id: uuid.UUID) -> ResponseReturnValue:
    row = _own_task(task_id)
    if row.task.state != TaskState.OPEN:
        flash(_("This task is no longer open."), "info")
        _audit([row], row.task.id)
        return redirect(url_for("tasks.mine"))
    form = DoneForm()
    if form.validate_on_submit():
        try:
            tasks.complete_task(get_session(), g.principal, row.task.id, form.note.data or "")
        except Forbidden:
            abort(404)
        except DomainError as exc:
            form.note.errors = [*form.note.errors, exc.message]
        else:
            flash(_("Task marked done. Your note was saved with it."), "success")
            return redirect(url_for("tasks.mine"))
    _audit([row], row.task.id)
    return render_template(
        "plans/tasks/done.html",
        form=form,
        row=row,
        today=_today(),
        kinds=tasks.TASK_KIND_LABELS,
        title=tasks.display_title,
    )
