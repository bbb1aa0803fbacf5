"""The students pages' menu entries (found by ``modules.iter_parts("nav", "NAV")``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..core.authz import Permission
from ..ui import NavItem
from .transfer import reads_for_a_school

NAV = [
    NavItem(
        "students.search_form", _l("Students"), Permission.STUDENTS_SEARCH, 20, group="students"
    ),
    NavItem(
        "students.moved_away",
        _l("Moved to other schools"),
        Permission.RECORD_READ,
        21,
        group="students",
        when=reads_for_a_school,
    ),
    NavItem(
        "students.transfer",
        _l("Transfer a student"),
        Permission.STUDENTS_TRANSFER,
        84,
        group="admin",
    ),
    NavItem(
        "students.roster_import", _l("Roster import"), Permission.ROSTER_IMPORT, 83, group="admin"
    ),
    NavItem("leavers.page", _l("Record leavers"), Permission.ROSTER_IMPORT, 85, group="admin"),
]
