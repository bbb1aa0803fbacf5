"""The domain modules, and how the app finds what each one contributes.

``MODULES`` names every domain package under ``wellbeing/``, in dependency order: the layering.
A module may import ``core``, the shell files (``web``, ``web_api``, ``cli``, ``labels``,
``ui``) and the modules listed before it, never one listed after it (``tests/test_layers.py``
checks the import graph against this order). The list holds only what exists: naming a package
that is not there fails at once with :class:`MissingModule`, and ``tests/test_modules.py``
fails when a package with models or views is missing from it. Add a module by creating its
package and placing its name after the modules it needs.

A module contributes by putting a file with a fixed name in its package; nothing is registered
from anywhere else, and a file that is absent simply contributes nothing:

=============  ===============================================  ================================
file           declares                                         found by
=============  ===============================================  ================================
``models``     its tables (``Base`` subclasses)                 :func:`import_models`
``services``   event subscriptions (``EVENT.subscribe``)        :func:`import_services`
``record``     growth-record sections, each a function          :func:`import_services`
               decorated ``@section(name, order)`` from
               ``wellbeing.students.record``
``views``      ``bp``: its HTML pages (a ``Blueprint``), and    ``create_app``
               ``BLUEPRINTS``: more page blueprints, if any
``api``        ``bp``: its JSON routes under ``/api/v1``, and   ``create_app``,
               ``OPENAPI_PATHS`` / ``OPENAPI_SCHEMAS``          ``api.openapi.build_document``
``cli``        ``group``: a ``click`` group of commands (or     ``wellbeing.cli``
               ``GROUPS``: several)
``jobs``       ``JOBS``: a list of ``core.jobs.Job``            ``core.scheduler.collect_jobs``
``nav``        ``NAV``: its menu entries, a list of             ``ui.collect_nav`` (once, in
               ``ui.NavItem`` (endpoint, label, permission,     ``ui.init_ui``)
               order, group, when)
``timeline``   ``KINDS`` (its item kinds and their labels) and  ``students.timeline.collect``
               ``items(session, principal, student, since,      (the timeline page)
               until)``: its growth-record timeline items,
               already cut to what the viewer may see
=============  ===============================================  ================================

Every part is found the same way: :func:`parts` imports ``wellbeing.<module>.<part>`` for each
module in order, and :func:`iter_parts` reads one attribute from those that have it. Declaring
with an attribute (``bp``, ``group``, ``JOBS``, ``NAV``, ``KINDS``) and declaring with a
decorator in the part's file (``@section``) are both "by the module": the part's file is the
only place that names what the module adds. A new kind of contribution is added to :data:`PARTS` and read with
:func:`iter_parts`.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from types import ModuleType
from typing import Any

MODULES = (
    "keys", "orgs", "auth", "students", "admin", "audit", "notify", "risk", "alerts", "breakglass",
    "screening", "followups", "crisis", "concerns", "notes", "plans", "referrals", "reports",
    "workbench", "api",
)  # fmt: skip

# The files a module may have that the app looks for (see the table above).
PARTS = ("models", "services", "record", "views", "api", "cli", "jobs", "nav", "timeline")


class MissingModule(RuntimeError):
    """``MODULES`` names a package that does not exist (a typo, or a module not written yet)."""


def package(name: str) -> ModuleType:
    """The module's package; :class:`MissingModule` when ``wellbeing/<name>/`` is not there."""
    if importlib.util.find_spec(f"wellbeing.{name}") is None:
        raise MissingModule(f"modules.MODULES names {name!r}, but wellbeing/{name}/ does not exist")
    return importlib.import_module(f"wellbeing.{name}")


def part(name: str, kind: str) -> ModuleType | None:
    """``wellbeing.<name>.<kind>`` imported, or None when the module has no such file.

    Only the file's absence is tolerated: an import error inside an existing file propagates.
    """
    if kind not in PARTS:
        raise ValueError(f"unknown module part {kind!r} (known: {', '.join(PARTS)})")
    package(name)
    if importlib.util.find_spec(f"wellbeing.{name}.{kind}") is None:
        return None
    return importlib.import_module(f"wellbeing.{name}.{kind}")


def parts(kind: str) -> Iterator[ModuleType]:
    """Every module's ``kind`` file, in ``MODULES`` order."""
    for name in MODULES:
        module = part(name, kind)
        if module is not None:
            yield module


def iter_parts(kind: str, attribute: str) -> Iterator[Any]:
    """``attribute`` of every module's ``kind`` file that declares it, in ``MODULES`` order."""
    for module in parts(kind):
        if hasattr(module, attribute):
            yield getattr(module, attribute)


def import_models() -> None:
    """Import every module's models so ``Base.metadata`` is complete."""
    for _module in parts("models"):
        pass


def import_services() -> None:
    """Import what registers itself on import: models, event subscriptions, record sections."""
    import_models()
    for kind in ("services", "record"):
        for _module in parts(kind):
            pass
