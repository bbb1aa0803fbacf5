"""Every declared event documents its payload (who emits it, every field), and handlers are
checked by mypy against the event they subscribe to."""

from __future__ import annotations

import dataclasses
import importlib
import textwrap
from pathlib import Path
from typing import Any

import pytest
from mypy import api as mypy_api

from wellbeing import modules
from wellbeing.core import events

ROOT = Path(__file__).resolve().parents[2]


def declared_events() -> list[tuple[str, events.Event[Any]]]:
    """``(module, event)`` for every Event in ``core.events`` and each ``<module>.events``."""
    found = []
    names = ["wellbeing.core.events"] + [f"wellbeing.{m}.events" for m in modules.MODULES]
    for name in names:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name in {name, name.rsplit(".", 1)[0]}:
                continue
            raise
        found += [(name, v) for v in vars(module).values() if isinstance(v, events.Event)]
    return found


def test_the_known_events_are_declared_once_each():
    names = sorted(event.name for _module, event in declared_events())
    assert names == sorted(
        ["alert_raised", "break_glass_started", "consent_withdrawn", "critical_response",
         "referral_moved", "student_left", "student_transferred", "tier_changed"]
    )  # fmt: skip


@pytest.mark.parametrize("module,event", declared_events(), ids=lambda v: getattr(v, "name", v))
def test_each_event_documents_its_payload(module, event):
    payload = event.payload
    assert payload.__module__ == module, "a payload is declared next to its event"
    if dataclasses.is_dataclass(payload):
        assert payload.__dataclass_params__.frozen, f"{payload.__name__} must be frozen"
    else:
        assert issubclass(payload, tuple) and hasattr(payload, "_fields"), "NamedTuple expected"
    assert events.is_documented(event), f"{payload.__name__}: 'Emitted by' and every ``field``"


def test_an_undocumented_payload_is_caught():
    class Bare:
        """Something happened."""

    @dataclasses.dataclass(frozen=True)
    class Half:
        """Emitted by nobody.

        - ``a``: documented.
        """

        a: int
        b: int

    assert not events.is_documented(events.Event("test.bare", Bare))
    assert not events.is_documented(events.Event("test.half", Half))


SNIPPET = """
from collections.abc import Sequence

from sqlalchemy.orm import Session

from wellbeing.alerts import bulk as alerts_bulk, services as alerts
from wellbeing.alerts.events import ALERT_RAISED, AlertRaised
from wellbeing.audit.events import BREAK_GLASS_STARTED
from wellbeing.core.events import CRITICAL_RESPONSE, CriticalResponse
from wellbeing.crisis import bulk as crisis_bulk, services as crisis
from wellbeing.followups import bulk as followups_bulk, services as followups
from wellbeing.risk.events import TIER_CHANGED, TierChanged
from wellbeing.students.events import STUDENT_TRANSFERRED

# The application's subscriptions, as the modules make them.
TIER_CHANGED.subscribe(alerts._on_tier_changed, many=alerts_bulk.on_tier_changed_many)
TIER_CHANGED.subscribe(crisis._on_tier_changed, many=crisis_bulk.on_tier_changed_many)
TIER_CHANGED.subscribe(followups.on_tier_changed, many=followups_bulk.on_tier_changed_many)
CRITICAL_RESPONSE.subscribe(alerts._on_critical_response, many=alerts_bulk.on_critical_responses)
BREAK_GLASS_STARTED.subscribe(alerts._on_break_glass)
STUDENT_TRANSFERRED.subscribe(crisis._on_transferred)
STUDENT_TRANSFERRED.subscribe(followups.on_student_transferred)


def on_alert(session: Session, raised: AlertRaised) -> None: ...
def on_alerts(session: Session, raised: Sequence[AlertRaised]) -> None: ...
def on_critical(session: Session, item: CriticalResponse) -> None: ...


ALERT_RAISED.subscribe(on_alert, many=on_alerts)
TIER_CHANGED.subscribe(on_critical)  # BAD: another event's payload
ALERT_RAISED.subscribe(on_alert, many=on_alert)  # BAD: the bulk form takes a sequence
TIER_CHANGED.emit(Session(), CriticalResponse(*[None] * 4))  # BAD: wrong payload
TIER_CHANGED.emit_many(Session(), [TierChanged(*[None] * 5)], lambda items: [1])  # BAD: expand
"""


def test_handlers_type_check_against_their_event(tmp_path):
    path = tmp_path / "subscriptions.py"
    path.write_text(textwrap.dedent(SNIPPET))
    out, err, _status = mypy_api.run(
        ["--config-file", str(ROOT / "pyproject.toml"), "--follow-imports=silent",
         "--no-error-summary", str(path)]
    )  # fmt: skip
    lines = SNIPPET.splitlines()
    bad = {n for n, line in enumerate(lines, start=1) if "# BAD" in line}
    flagged = set()
    for line in out.splitlines():
        # By file name: mypy replays a cached module's errors under the path it had then.
        if line.split(":")[0].endswith(path.name) and ": error:" in line:
            flagged.add(int(line.split(":")[1]))
    assert flagged == bad, out + err
