"""Template helpers: the navigation (built from what the user may use), tier names, dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, g, request, url_for
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from . import modules
from .core.authz import Permission, Principal, can
from .labels import instrument_label, role_label, tier_reason_label, tier_source_label
from .orgs.labels import class_label, grade_label, grade_range_label, school_label

# The menu's groups, by task, in the order they show (labels: the group headings).
NAV_GROUPS: dict[str, object] = {
    "workbench": _l("Workbench"),
    "students": _l("Students"),
    "screening": _l("Screening"),
    "alerts": _l("Alerts & crises"),
    "reports": _l("Reports"),
    "admin": _l("Administration"),
    # Not a menu group: the user's own pages, reached from their name in the top line.
    "account": _l("My account"),
}
MENU_GROUPS = tuple(name for name in NAV_GROUPS if name != "account")


@dataclass(frozen=True)
class NavItem:
    """A menu entry, declared in a module's ``nav.py`` (``NAV = [NavItem(...), ...]``); it shows
    only to users who have ``permission`` (and for whom ``when`` holds)."""

    endpoint: str
    label: object  # a lazy translation
    permission: Permission
    order: int = 50
    group: str = "workbench"  # one of NAV_GROUPS
    # An extra test beyond the permission (e.g. "has a class"), given the principal.
    when: Callable[[Principal], bool] | None = None

    def __post_init__(self) -> None:
        if self.group not in NAV_GROUPS:
            raise ValueError(f"unknown navigation group {self.group!r} ({self.endpoint})")


def collect_nav() -> list[NavItem]:
    """Every module's ``nav.py`` ``NAV`` entries, in ``MODULES`` order then by ``order``
    (a stable sort: equal orders keep the modules' order); an endpoint counts once."""
    items: dict[str, NavItem] = {}
    for declared in modules.iter_parts("nav", "NAV"):
        for item in declared:
            items.setdefault(item.endpoint, item)
    return sorted(items.values(), key=lambda item: item.order)


TIER_NAMES = {
    0: _l("Green: no risk"),
    1: _l("Yellow: general concern"),
    2: _l("Orange: key concern"),
    3: _l("Red: crisis"),
}
TIER_SHORT = {0: _l("Green"), 1: _l("Yellow"), 2: _l("Orange"), 3: _l("Red")}
TIER_CLASSES = {0: "tier-green", 1: "tier-yellow", 2: "tier-orange", 3: "tier-red"}


def _visible_nav() -> list[dict[str, object]]:
    principal = g.get("principal")
    items = []
    nav: list[NavItem] = current_app.extensions["wellbeing.nav"]
    for item in nav:
        if item.endpoint not in current_app.view_functions or not can(principal, item.permission):
            continue
        if item.when is not None and (principal is None or not item.when(principal)):
            continue
        url = url_for(item.endpoint)
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append(
            {"url": url, "label": item.label, "active": active, "group": item.group,
             "endpoint": item.endpoint}
        )  # fmt: skip
    return items


@dataclass(frozen=True)
class NavGroup:
    name: str
    label: object
    items: list[dict[str, object]]


def _nav_groups() -> list[NavGroup]:
    """The menu: the visible entries by group, groups in :data:`MENU_GROUPS` order, empty
    groups left out (a role sees only the tasks it has)."""
    items = _visible_nav()
    return [
        NavGroup(name, NAV_GROUPS[name], [i for i in items if i["group"] == name])
        for name in MENU_GROUPS
        if any(i["group"] == name for i in items)
    ]


def _local_time(value: dt.datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    return "" if value is None else format_datetime(value, fmt)


def _student_place(student: object) -> dict[str, str]:
    """School and class of a student, for the student chip (templates/_macros/student.html)."""
    from .students.chip import student_place  # the students module sits above the shell

    return student_place(student)


def init_ui(app: Flask) -> None:
    app.extensions["wellbeing.nav"] = collect_nav()  # the menu, read once from the modules
    app.jinja_env.globals.update(
        nav_items=_visible_nav,
        nav_groups=_nav_groups,
        can=lambda permission, target=None: can(g.get("principal"), permission, target),
        Permission=Permission,
        get_locale=get_locale,
        TIER_NAMES=TIER_NAMES,
        TIER_SHORT=TIER_SHORT,
        TIER_CLASSES=TIER_CLASSES,
        # codes as people read them (wellbeing/labels.py, wellbeing/orgs/labels.py)
        role_label=role_label,
        tier_source_label=tier_source_label,
        tier_reason_label=tier_reason_label,
        instrument_label=instrument_label,
        grade_label=grade_label,
        class_label=class_label,
        grade_range_label=grade_range_label,
        school_label=school_label,
        student_place=_student_place,
    )
    app.jinja_env.filters["localtime"] = _local_time
    app.jinja_env.filters["class_labels"] = lambda pairs: [class_label(g, c) for g, c in pairs]
    # Punctuation around translated text: full-width in Chinese (学生：, （待确认）).
    app.jinja_env.filters["colon"] = lambda label: _("%(label)s:", label=label)
    app.jinja_env.filters["parens"] = lambda text: _("(%(text)s)", text=text)
    app.jinja_env.autoescape = True
