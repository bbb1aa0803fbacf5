"""States of a thing with a life cycle: a ``StrEnum``, one transitions table, one check.

Each stateful model (alert, crisis, concern, follow-up, kiosk session, campaign, break-glass
grant, tier decision, plan, referral) declares::

    class AlertState(StrEnum):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    ALERT_STATES = Transitions(AlertState, {
        AlertState.OPEN: {AlertState.ACKNOWLEDGED, AlertState.RESOLVED},
        AlertState.ACKNOWLEDGED: {AlertState.RESOLVED},
    })

and in the model ``__table_args__ = (ALERT_STATES.check("state"),)``, a CHECK constraint that
keeps any other value out of the database whatever writes it (bulk SQL included). The service
that moves the thing calls ``ALERT_STATES.move(alert, AlertState.RESOLVED)``: an illegal move
raises :class:`IllegalTransition` (a :class:`~wellbeing.core.errors.DomainError`) and changes
nothing.

Why twenty lines of our own and not ``transitions`` or ``python-statemachine``: those libraries
attach callbacks and generated methods to the object, which fights SQLAlchemy's attribute
instrumentation and hides the table from the type checker; here the table is plain data that
the service, the CHECK constraint, the tests (Hypothesis walks it) and ARCHITECTURE.md all read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Generic, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint

from .errors import DomainError

S = TypeVar("S", bound=StrEnum)


class IllegalTransition(DomainError):
    """A move the transitions table does not allow (e.g. reopening a closed crisis)."""

    code = "illegal_transition"
    status = 409


class Transitions(Generic[S]):
    """The allowed moves between the states of one kind of thing."""

    def __init__(self, states: type[S], table: Mapping[S, Iterable[S]]) -> None:
        self.states = states
        self.table: dict[S, frozenset[S]] = {s: frozenset(table.get(s, ())) for s in states}
        for targets in self.table.values():
            for target in targets:
                if not isinstance(target, states):
                    raise TypeError(f"{target!r} is not a {states.__name__}")

    def allowed(self, current: str, target: str) -> bool:
        return self.states(target) in self.table[self.states(current)]

    def terminal(self) -> frozenset[S]:
        """States with no way out (closed, resolved...)."""
        return frozenset(s for s, targets in self.table.items() if not targets)

    def check_move(self, current: str, target: str) -> None:
        if not self.allowed(current, target):
            raise IllegalTransition(
                _l("This cannot change from “%(current)s” to “%(target)s”."),
                current=state_name(self.states(current)),
                target=state_name(self.states(target)),
            )

    def move(self, obj: Any, target: S, attribute: str = "state") -> None:
        """Set ``obj.<attribute>`` to ``target`` if the table allows it, else raise."""
        self.check_move(getattr(obj, attribute), target)
        setattr(obj, attribute, target)

    def check(self, column: str = "state") -> CheckConstraint:
        """The CHECK constraint naming every state (``ck_<table>_<column>_valid``)."""
        return CheckConstraint(sql_in(column, tuple(self.states)), name=f"{column}_valid")


def sql_in(column: str, values: Iterable[str]) -> str:
    """``column IN ('a', 'b')``: the condition of a CHECK constraint on a column of codes."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


# Keyed by (enum class, value): a StrEnum member hashes and compares as its value, so keying
# by the member alone gave every machine's "locked" or "draft" the last name registered. A bare
# string (a value read from a column, not wrapped in its enum) still finds the last name
# registered for that value, as before.
_LABELS: dict[tuple[type, str], object] = {}
_BY_VALUE: dict[str, object] = {}


def label_states(labels: Mapping[Any, object]) -> None:
    """Register people's names for states (lazy translations), read by :func:`state_label`."""
    for state, label in labels.items():
        _LABELS[(type(state), str(state))] = label
        _BY_VALUE[str(state)] = label


def state_name(state: StrEnum) -> object:
    """The state's name as a lazy translation (rendered when read, in the reader's language);
    the value itself only if nobody named it."""
    value = str(state)
    if isinstance(state, StrEnum):
        return _LABELS.get((type(state), value), value)
    return _BY_VALUE.get(value, value)


def state_label(state: StrEnum) -> str:
    """The state as people read it, in the current language."""
    return str(state_name(state))
