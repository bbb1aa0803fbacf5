"""Template helpers: the navigation (built from what the user may use), tier names, dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import Flask, current_app, g, request, url_for
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .core.authz import Permission, can
from .labels import instrument_label, role_label, tier_reason_label, tier_source_label
from .orgs.labels import class_label, grade_label, grade_range_label, school_label


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy translation
    permission: Permission
    order: int = 50


NAV: list[NavItem] = []


def nav_item(endpoint: str, label: object, permission: Permission, order: int = 50) -> None:
    """Modules add their menu entries at import time; only entries the user may use show."""
    if not any(item.endpoint == endpoint for item in NAV):
        NAV.append(NavItem(endpoint, label, permission, order))
        NAV.sort(key=lambda item: item.order)


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
    for item in NAV:
        if item.endpoint not in current_app.view_functions or not can(principal, item.permission):
            continue
        url = url_for(item.endpoint)
        items.append(
            {"url": url, "label": item.label, "active": request.path.startswith(url) and url != "/"}
        )
    return items


def _local_time(value: dt.datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    return "" if value is None else format_datetime(value, fmt)


def init_ui(app: Flask) -> None:
    app.jinja_env.globals.update(
        nav_items=_visible_nav,
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
    )
    app.jinja_env.filters["localtime"] = _local_time
    app.jinja_env.filters["class_labels"] = lambda pairs: [class_label(g, c) for g, c in pairs]
    # Punctuation around translated text: full-width in Chinese (学生：, （待确认）).
    app.jinja_env.filters["colon"] = lambda label: _("%(label)s:", label=label)
    app.jinja_env.filters["parens"] = lambda text: _("(%(text)s)", text=text)
    app.jinja_env.autoescape = True
