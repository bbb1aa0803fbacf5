"""Messages services once raised as plain strings (views showed them with ``_(str(exc))``).

Services now raise them as ``_l("...")`` themselves and views show ``str(exc)``: a formatted
message cannot be looked up (tests/test_i18n_source.py forbids translating a non-literal). This
list only keeps their msgids extracted while every raise is converted; do not add to it.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

RUNTIME_MESSAGES = (
    _l("a chosen student is not part of this campaign"),
    _l("a class teacher needs a class"),
    _l("a new time is only given when the follow-up is rescheduled"),
    _l("a rescheduled follow-up needs a new time in the future"),
    _l("a second person must approve a step-down from red"),
    _l("a step-down from red is already waiting for approval"),
    _l("a written reason is required"),
    _l("all schools must be in one district"),
    _l("answer at least one questionnaire of this campaign"),
    _l("choose an outcome"),
    _l("choose at least one instrument"),
    _l("choose at least one school"),
    _l("choose students of one school"),
    _l("class name must be 1-40 characters"),
    _l("due time must be timezone-aware"),
    _l("enter a name or a student number"),
    _l("grades must be between 1 and 12"),
    _l("no answers were given"),
    _l("no such step-down request"),
    _l("no such student"),
    _l("not a valid e-mail address"),
    _l("school code must be 1-32 letters, digits, '-' or '_'"),
    _l("school name must be 1-200 characters"),
    _l("that class belongs to another school"),
    _l("the campaign closes before it opens"),
    _l("the campaign is already closed"),
    _l("the campaign is not open for responses"),
    _l("the mapping is empty"),
    _l("the mapping needs a name (at most 100 characters)"),
    _l("the name is required (at most 200 characters)"),
    _l("the student of this follow-up no longer exists"),
    _l("the student's tier changed since the request; withdraw it and decide again"),
    _l("the user already has this role here"),
    _l("this class already exists"),
    _l("this follow-up is already closed"),
    _l("this kiosk session has ended"),
    _l("this name is used by another school's mapping"),
    _l("this step-down is no longer waiting for approval"),
    _l("this student has no provisional decision to review"),
    _l("tier must be 0, 1, 2 or 3"),
    _l("unknown special-care category"),
    _l("username must be 2-64 lowercase letters, digits, '.', '_' or '-'"),
    _l("you cannot disable your own account"),
    _l("you cannot remove your own administrator role"),
)
