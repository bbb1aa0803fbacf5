"""Domain events in bulk: ``emit_many`` (bulk forms, per-item fallback through ``expand``) and
``deferred`` (collect, flush, discard, nesting, per thread)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wellbeing.core import events

SESSION: Any = object()  # handlers here never touch the database
_EVENTS: dict[str, events.Event[Any]] = {}


def ev(name: str) -> events.Event[Any]:
    """The private test event ``name`` (payloads of any type)."""
    return _EVENTS.setdefault(name, events.Event(name, object))


class Recorder:
    """Subscriptions to private test events, recording every call in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.expanded = 0
        self.subscribed: list[tuple[events.Event[Any], Any]] = []

    def expand(self, items: list[int]) -> Iterator[tuple[int, int]]:
        self.expanded += 1
        for item in items:
            yield item, item * 10

    def plain(self, name: str, event: str = "test.a") -> None:
        def handler(session: Any, payload: tuple[int, int]) -> None:
            assert session is SESSION
            self.calls.append((name, payload))

        ev(event).subscribe(handler)
        self.subscribed.append((ev(event), handler))

    def bulk(self, name: str, event: str = "test.a") -> None:
        def handler(session: Any, *args: Any) -> None:  # pragma: no cover - never per item here
            self.calls.append((f"{name}/item", args))

        def many(session: Any, items: list[int]) -> None:
            assert session is SESSION
            self.calls.append((name, list(items)))

        ev(event).subscribe(handler, many=many)
        self.subscribed.append((ev(event), handler))

    def close(self) -> None:
        for event, handler in self.subscribed:
            event.unsubscribe(handler)


@pytest.fixture
def rec() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.close()


def test_bulk_forms_get_the_batch_and_the_others_each_item_in_subscription_order(rec):
    rec.bulk("b1")
    rec.plain("p1")
    rec.bulk("b2")
    rec.plain("p2")
    ev("test.a").emit_many(SESSION, [1, 2], rec.expand)
    assert rec.calls == [
        ("b1", [1, 2]), ("p1", (1, 10)), ("p1", (2, 20)), ("b2", [1, 2]),
        ("p2", (1, 10)), ("p2", (2, 20)),
    ]  # fmt: skip
    assert rec.expanded == 1  # once, shared by both per-item subscriptions


def test_expand_is_not_called_when_every_subscription_has_a_bulk_form(rec):
    rec.bulk("b1")
    rec.bulk("b2")
    ev("test.a").emit_many(SESSION, [1], rec.expand)
    assert rec.expanded == 0 and [c[0] for c in rec.calls] == ["b1", "b2"]


def test_expand_runs_lazily_after_the_bulk_forms_before_it(rec):
    seen_by_expand: list[list[str]] = []

    def expand(items: list[int]) -> Iterator[tuple[int, int]]:
        seen_by_expand.append([c[0] for c in rec.calls])
        yield from ((i, i) for i in items)

    rec.bulk("b1")
    rec.plain("p1")
    ev("test.a").emit_many(SESSION, [5], expand)
    assert seen_by_expand == [["b1"]]


def test_empty_batches_and_events_nobody_listens_to_do_nothing(rec):
    rec.bulk("b1")
    rec.plain("p1")
    ev("test.a").emit_many(SESSION, [], rec.expand)
    ev("test.nobody").emit_many(SESSION, [1], rec.expand)
    assert rec.calls == [] and rec.expanded == 0
    assert ev("test.a").has_subscribers() and not ev("test.nobody").has_subscribers()


def test_a_handler_removed_from_the_registry_is_not_called_in_either_form(rec):
    rec.bulk("b1")
    event, handler = rec.subscribed[0]
    events._handlers[event].remove(handler)  # what tests and benches do to detach
    event.emit_many(SESSION, [1], rec.expand)
    assert rec.calls == [] and not event.has_subscribers()


def test_deferred_collects_per_event_in_first_seen_order_until_flushed(rec):
    rec.bulk("a", "test.a")
    rec.bulk("b", "test.b")
    with events.deferred() as pending:
        ev("test.b").emit_many(SESSION, [1], rec.expand)
        ev("test.a").emit_many(SESSION, [2, 3], rec.expand)
        ev("test.b").emit_many(SESSION, [4], rec.expand)
        assert rec.calls == [] and pending.count() == 4 and pending.count(ev("test.b")) == 2
        pending.flush(SESSION)
        assert rec.calls == [("b", [1, 4]), ("a", [2, 3])]
        assert pending.count() == 0
        pending.flush(SESSION)  # empty: nothing runs again
    assert len(rec.calls) == 2


def test_deferred_per_item_subscriptions_get_the_first_expand_of_the_event(rec):
    rec.plain("p")
    other = Recorder()
    with events.deferred() as pending:
        ev("test.a").emit_many(SESSION, [1], rec.expand)
        ev("test.a").emit_many(SESSION, [2], other.expand)
        pending.flush(SESSION)
    assert rec.calls == [("p", (1, 10)), ("p", (2, 20))]
    assert (rec.expanded, other.expanded) == (1, 0)


def test_leaving_without_flush_or_by_exception_or_discard_drops_the_batches(rec):
    rec.bulk("b")
    with events.deferred():
        ev("test.a").emit_many(SESSION, [1], rec.expand)
    with pytest.raises(RuntimeError), events.deferred():
        ev("test.a").emit_many(SESSION, [2], rec.expand)
        raise RuntimeError("boom")
    with events.deferred() as pending:
        ev("test.a").emit_many(SESSION, [3], rec.expand)
        pending.discard()
        ev("test.a").emit_many(SESSION, [4], rec.expand)
        pending.flush(SESSION)
    assert rec.calls == [("b", [4])]
    ev("test.a").emit_many(SESSION, [5], rec.expand)  # no longer deferred
    assert rec.calls[-1] == ("b", [5])


def test_plain_emit_is_never_deferred(rec):
    rec.plain("p")
    with events.deferred():
        ev("test.a").emit(SESSION, (7, 70))
        assert rec.calls == [("p", (7, 70))]


def test_an_inner_block_joins_the_outer_one(rec):
    rec.bulk("b")
    with events.deferred() as outer:
        ev("test.a").emit_many(SESSION, [1], rec.expand)
        with events.deferred() as inner:
            ev("test.a").emit_many(SESSION, [2], rec.expand)
            inner.flush(SESSION)  # the outer block flushes
        assert rec.calls == [] and outer.count() == 2
        with pytest.raises(RuntimeError), events.deferred():
            ev("test.a").emit_many(SESSION, [3], rec.expand)
            ev("test.new").emit_many(SESSION, [9], rec.expand)
            raise RuntimeError("only this block's batches are dropped")
        with events.deferred() as inner:
            ev("test.a").emit_many(SESSION, [4], rec.expand)
            inner.discard()
        outer.flush(SESSION)
    assert rec.calls == [("b", [1, 2])]


def test_handlers_emitting_during_a_flush_run_at_once(rec):
    rec.bulk("inner", "test.b")

    def cascade(session: Any, items: list[int]) -> None:
        ev("test.b").emit_many(session, [i + 100 for i in items], rec.expand)

    def handler(session: Any, *args: Any) -> None:  # pragma: no cover
        pass

    ev("test.a").subscribe(handler, many=cascade)
    try:
        with events.deferred() as pending:
            ev("test.a").emit_many(SESSION, [1], rec.expand)
            pending.flush(SESSION)
            assert rec.calls == [("inner", [101])]
    finally:
        ev("test.a").unsubscribe(handler)


def test_deferral_is_per_thread(rec):
    rec.bulk("b")
    with events.deferred() as pending:
        thread = threading.Thread(target=ev("test.a").emit_many, args=(SESSION, [1], rec.expand))
        thread.start()
        thread.join()
        assert rec.calls == [("b", [1])]  # another thread (request) ran at once
        assert pending.count() == 0


@given(st.lists(st.tuples(st.sampled_from(["test.a", "test.b", "test.c"]), st.lists(st.integers(), max_size=3)), max_size=12))  # fmt: skip
def test_a_flush_equals_one_emit_many_per_event_of_the_concatenated_items(emits):
    received: list[tuple[str, list[int]]] = []
    subscribed = []
    for event in ("test.a", "test.b", "test.c"):

        def handler(session: Any, *args: Any) -> None:  # pragma: no cover
            pass

        ev(event).subscribe(handler, many=lambda s, items, e=event: received.append((e, list(items))))  # fmt: skip
        subscribed.append((event, handler))
    try:
        with events.deferred() as pending:
            for event, items in emits:
                ev(event).emit_many(SESSION, items, lambda items: iter(()))
            pending.flush(SESSION)
    finally:
        for event, handler in subscribed:
            ev(event).unsubscribe(handler)
    expected: dict[str, list[int]] = {}
    for event, items in emits:
        if items:
            expected.setdefault(event, []).extend(items)
    assert received == list(expected.items())
