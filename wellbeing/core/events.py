"""In-process domain events, so modules react to each other without import cycles.

An event is an :class:`Event` object declared with its payload type, a frozen dataclass or
NamedTuple whose docstring says who emits it, when, in which transaction and what each field
is (as Indico documents each signal's sender and arguments). An event is declared by the
module that emits it when every subscriber is above that module in the layering
(``wellbeing/modules.py``), e.g. ``risk.events.TIER_CHANGED``; otherwise in a module below the
emitter and every subscriber: here, with a payload of ids and plain values
(:data:`CRITICAL_RESPONSE`: ``screening`` emits it, ``alerts``, below ``screening``,
subscribes), or the module that owns the data (``audit.events.BREAK_GLASS_STARTED``:
``breakglass`` emits it, ``alerts`` subscribes).

Handlers are ``(session, payload) -> None`` and run synchronously in the emitter's transaction:
an exception rolls the whole change back.

Bulk paths (screening imports) use :meth:`Event.emit_many`: a subscriber that registered a bulk
form (``EVENT.subscribe(handler, many=bulk)``, ``bulk(session, payloads)``) gets the whole batch
in one call; the others get one call per payload. The emitter may pass ``expand``, which turns
the batch into the payloads the per-item handlers get (typically the same ones with their ORM
objects loaded in chunks); it runs at most once and only if some subscriber has no bulk form,
so a batch whose subscribers all have bulk forms loads no per-item object. Inside
:func:`deferred`, ``emit_many`` batches are collected and run together at ``flush`` (one batch
per event for a whole import, not per chunk).
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy.orm import Session

P = TypeVar("P")

Handler = Callable[[Session, P], None]
ManyHandler = Callable[[Session, Sequence[P]], None]
Expand = Callable[[Sequence[P]], Iterable[P]]

# Per-item handlers of each event in subscription order (tests and benches read and edit this
# directly, e.g. ``_handlers[TIER_CHANGED].remove(handler)``).
_handlers: dict[Event[Any], list[Handler[Any]]] = {}
# The bulk form of a subscription, by (event, per-item handler): a handler removed from
# ``_handlers`` is no longer called in either form.
_many: dict[tuple[Event[Any], Handler[Any]], ManyHandler[Any]] = {}


class Event(Generic[P]):
    """A domain event whose payload is a ``payload`` (documented on the payload's class)."""

    def __init__(self, name: str, payload: type[P]) -> None:
        self.name = name
        self.payload = payload

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {getattr(self.payload, '__name__', self.payload)})"

    def subscribe(self, handler: Handler[P], *, many: ManyHandler[P] | None = None) -> Handler[P]:
        """Call ``handler(session, payload)`` on :meth:`emit`; ``many(session, payloads)`` is
        its bulk form, used by :meth:`emit_many` instead of one call per payload."""
        handlers = _handlers.setdefault(self, [])
        if handler not in handlers:
            handlers.append(handler)
        if many is not None:
            _many[(self, handler)] = many
        return handler

    def unsubscribe(self, handler: Handler[P]) -> None:
        if handler in _handlers.get(self, ()):
            _handlers[self].remove(handler)
        _many.pop((self, handler), None)

    def has_subscribers(self) -> bool:
        return bool(_handlers.get(self))

    def emit(self, session: Session, payload: P) -> None:
        """Call every per-item handler now (never deferred)."""
        for handler in list(_handlers.get(self, ())):
            handler(session, payload)

    def emit_many(
        self, session: Session, items: Sequence[P], expand: Expand[P] | None = None
    ) -> None:
        """Emit for many payloads: per subscription, in subscription order, its bulk form with
        all ``items``, or the per-item handler once per payload of ``expand(items)`` (``items``
        themselves without ``expand``; ``expand`` is called at most once, only if some
        subscription has no bulk form). Collected instead when inside :func:`deferred`."""
        if not items:
            return
        pending: Pending | None = getattr(_local, "pending", None)
        if pending is not None:
            pending.add(self, items, expand)
            return
        self._run_many(session, items, expand)

    def _run_many(self, session: Session, items: Sequence[P], expand: Expand[P] | None) -> None:
        handlers = list(_handlers.get(self, ()))
        plain = sum(1 for h in handlers if (self, h) not in _many)
        expanded: Iterable[P] | None = None
        for handler in handlers:
            many = _many.get((self, handler))
            if many is not None:
                many(session, items)
                continue
            if expanded is None:  # one per-item handler: streamed (one pass); several: kept
                expanded = items if expand is None else expand(items)
                expanded = expanded if plain == 1 else list(expanded)
            for payload in expanded:
                handler(session, payload)


def is_documented(event: Event[Any]) -> bool:
    """Whether the payload's docstring says who emits the event and names every field."""
    payload = event.payload
    doc = payload.__doc__ or ""
    if dataclasses.is_dataclass(payload):
        fields = [f.name for f in dataclasses.fields(payload)]
    else:
        fields = list(getattr(payload, "_fields", ()))
    return bool(fields) and "Emitted by" in doc and all(f"``{f}``" in doc for f in fields)


# --------------------------------------------------------------------------- events

# The core only declares events whose subscribers sit below the emitter; the others live in the
# emitting module (``risk.events``, ``alerts.events``, ``students.events``) or, as break-glass
# (emitted by ``breakglass``, heard by ``alerts`` below it), in a module below both
# (``audit.events``).


class CriticalResponse(NamedTuple):
    """A screening response whose critical item (e.g. PHQ-9 item 9) was answered above zero.

    Emitted by ``screening`` intake (kiosk submissions and file imports), in bulk with
    ``emit_many`` once per import (deferred to the end of a file import), in the transaction
    that stores the response. ``alerts`` raises a ``critical_item`` alert per response.

    - ``student_id``: the student who answered.
    - ``school_id``: the student's school when answering.
    - ``response_id``: the stored response (the alert's source).
    - ``instrument``: the instrument's code, e.g. ``"phq9"``.
    """

    student_id: uuid.UUID
    school_id: uuid.UUID
    response_id: uuid.UUID
    instrument: str


CRITICAL_RESPONSE: Event[CriticalResponse] = Event("critical_response", CriticalResponse)


# --------------------------------------------------------------------------- deferral

_local = threading.local()


class _Buffer:
    def __init__(self) -> None:
        self.items: dict[Event[Any], list[Any]] = {}  # insertion order = first-seen order
        self.expand: dict[Event[Any], Expand[Any] | None] = {}

    def mark(self) -> dict[Event[Any], int]:
        return {event: len(items) for event, items in self.items.items()}

    def truncate(self, mark: dict[Event[Any], int]) -> None:
        for event in list(self.items):
            if event not in mark:
                del self.items[event], self.expand[event]
            else:
                del self.items[event][mark[event] :]


class Pending:
    """The ``emit_many`` batches collected by :func:`deferred`. A nested block's handle only
    adds to the outer one: its ``flush`` does nothing (the outer block flushes everything) and
    its ``discard`` drops only what was emitted inside it."""

    def __init__(self, buffer: _Buffer, *, owner: bool) -> None:
        self._buffer = buffer
        self._owner = owner
        self._mark = buffer.mark()

    def add(self, event: Event[P], items: Sequence[P], expand: Expand[P] | None) -> None:
        buffer = self._buffer
        if event not in buffer.items:
            buffer.items[event], buffer.expand[event] = [], expand
        buffer.items[event].extend(items)

    def count(self, event: Event[Any] | None = None) -> int:
        """Items waiting (for ``event``, or in all)."""
        if event is not None:
            return len(self._buffer.items.get(event, ()))
        return sum(len(items) for items in self._buffer.items.values())

    def flush(self, session: Session) -> None:
        """Run the collected batches (one ``emit_many`` per event, in first-seen order) and
        empty the buffer. ``emit_many`` calls made by the handlers themselves run at once."""
        if not self._owner:
            return
        buffer = self._buffer
        batches = [(e, items, buffer.expand[e]) for e, items in buffer.items.items()]
        buffer.items, buffer.expand = {}, {}
        _local.pending = None
        try:
            for event, items, expand in batches:
                event._run_many(session, items, expand)
        finally:
            _local.pending = self

    def discard(self) -> None:
        self._buffer.truncate(self._mark if not self._owner else {})


@contextmanager
def deferred() -> Iterator[Pending]:
    """Collect ``emit_many`` calls until ``pending.flush(session)``. Per thread. The outermost
    block drops what it did not flush when it ends; an inner block joins the outer one, and what
    it collected stays for the outer block unless it calls ``discard`` (do so when rolling back)
    or an exception leaves it."""
    outer: Pending | None = getattr(_local, "pending", None)
    if outer is not None:
        inner = Pending(outer._buffer, owner=False)
        try:
            yield inner
        except BaseException:
            inner.discard()
            raise
        return
    pending = Pending(_Buffer(), owner=True)
    _local.pending = pending
    try:
        yield pending
    finally:
        pending.discard()
        _local.pending = None
