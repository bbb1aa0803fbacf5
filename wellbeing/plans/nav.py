"""The plan pages' menu entries (found by ``modules.iter_parts("nav", "NAV")``): the queue of
plans waiting for the viewer's sign-off, for school leaders and district counsellors, and
the viewer's own tasks from plans."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..core.authz import Permission
from ..ui import NavItem

NAV = [
    NavItem("tasks.mine", _l("My tasks"), Permission.TASKS_OWN, 21, group="workbench"),
    NavItem(
        "plans.signoffs", _l("Plans to sign off"), Permission.PLANS_SIGNOFF, 25, group="students"
    ),
]
