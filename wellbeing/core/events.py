"""In-process domain events, so modules react to each other without import cycles.

``tier_changed`` is emitted by the risk module after a student's tier changes (in the same
transaction); the follow-ups module subscribes to reset the cadence. Handlers run synchronously
in the emitter's transaction: an exception rolls the whole change back.

Bulk paths (screening imports) use :func:`emit_many`: a subscriber that registered a bulk form
(``subscribe(event, handler, many=bulk)``) gets the whole batch in one call; the others get one
call per item, from ``expand``. Inside :func:`deferred`, ``emit_many`` batches are collected
and run together at ``flush`` (one batch per event for a whole import, not per chunk).
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

Handler = Callable[..., None]
ManyHandler = Callable[[Session, Sequence[Any]], None]
Expand = Callable[[Sequence[Any]], Iterable[tuple[Any, ...]]]

# Per-item handlers in subscription order (tests and benches read and edit this directly).
_handlers: dict[str, list[Handler]] = defaultdict(list)
# The bulk form of a subscription, by (event, per-item handler): a handler removed from
# ``_handlers`` is no longer called in either form.
_many: dict[tuple[str, Handler], ManyHandler] = {}

TIER_CHANGED = "tier_changed"  # (session, student, old_tier: int, new_tier: int, decision)
ALERT_RAISED = "alert_raised"  # (session, alert)
STUDENT_TRANSFERRED = "student_transferred"  # (session, student, old_school_id)
CRITICAL_RESPONSE = "critical_response"  # (session, student, response_id: uuid, instrument: str)
BREAK_GLASS_STARTED = "break_glass_started"  # (session, grant: BreakGlass)


class CriticalResponse(NamedTuple):
    """An item of ``CRITICAL_RESPONSE`` in :func:`emit_many`."""

    student_id: uuid.UUID
    school_id: uuid.UUID
    response_id: uuid.UUID
    instrument: str


def subscribe(event: str, handler: Handler, *, many: ManyHandler | None = None) -> Handler:
    """Call ``handler(session, *args)`` on ``emit``; ``many(session, items)`` is its bulk form,
    used by :func:`emit_many` instead of one call per item."""
    if handler not in _handlers[event]:
        _handlers[event].append(handler)
    if many is not None:
        _many[(event, handler)] = many
    return handler


def unsubscribe(event: str, handler: Handler) -> None:
    if handler in _handlers.get(event, ()):
        _handlers[event].remove(handler)
    _many.pop((event, handler), None)


def has_subscribers(event: str) -> bool:
    return bool(_handlers.get(event))


def emit(event: str, *args: Any, **kwargs: Any) -> None:
    for handler in list(_handlers.get(event, ())):
        handler(*args, **kwargs)


def emit_many(event: str, session: Session, items: Sequence[Any], expand: Expand) -> None:
    """Emit ``event`` for many items: per subscription, in subscription order, its bulk form
    with all ``items``, or the per-item handler once per ``expand(items)`` tuple (``expand`` is
    called at most once, only if some subscription has no bulk form). Collected instead when
    inside :func:`deferred`."""
    if not items:
        return
    pending = getattr(_local, "pending", None)
    if pending is not None:
        pending.add(event, items, expand)
        return
    _run_many(event, session, items, expand)


def _run_many(event: str, session: Session, items: Sequence[Any], expand: Expand) -> None:
    handlers = list(_handlers.get(event, ()))
    plain = sum(1 for h in handlers if (event, h) not in _many)
    expanded: Iterable[tuple[Any, ...]] | None = None
    for handler in handlers:
        many = _many.get((event, handler))
        if many is not None:
            many(session, items)
            continue
        if expanded is None:  # one per-item handler: streamed (one pass); several: kept
            expanded = expand(items) if plain == 1 else list(expand(items))
        for args in expanded:
            handler(session, *args)


# --------------------------------------------------------------------------- deferral

_local = threading.local()


class _Buffer:
    def __init__(self) -> None:
        self.items: dict[str, list[Any]] = {}  # insertion order = first-seen event order
        self.expand: dict[str, Expand] = {}

    def mark(self) -> dict[str, int]:
        return {event: len(items) for event, items in self.items.items()}

    def truncate(self, mark: dict[str, int]) -> None:
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

    def add(self, event: str, items: Sequence[Any], expand: Expand) -> None:
        buffer = self._buffer
        if event not in buffer.items:
            buffer.items[event], buffer.expand[event] = [], expand
        buffer.items[event].extend(items)

    def count(self, event: str | None = None) -> int:
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
                _run_many(event, session, items, expand)
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
