"""axe-core in the browser tests: the vendored copy (``vendor/axe-core/``, see its SOURCE.txt)
is injected into the page under test by the test itself; the app never serves it.

``serious_violations(page)`` runs axe on the whole page (WCAG 2 A/AA rules and best
practices) and returns the serious or critical violations, one readable line each (rule, impact,
help, the first nodes' selectors)."""

from __future__ import annotations

import json
from pathlib import Path

AXE_JS = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")

RUN_JS = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
    resultTypes: ['violations'],
  });
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || '').replace(/\\s+/g, ' ')),
  }));
}"""


def install(context) -> None:  # type: ignore[no-untyped-def]
    """Load axe into every page of ``context`` from now on (an init script: the app's strict
    CSP, which refuses inline scripts, does not apply to it)."""
    context.add_init_script(path=str(AXE_JS))


def violations(page) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    """Every axe violation on the page as loaded now (after :func:`install`)."""
    return list(page.evaluate(RUN_JS))


def serious_violations(page, where: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The serious and critical violations, as lines naming the page ``where``."""
    return [
        f"{where}: {v['id']} ({v['impact']}) {v['help']}\n      " + "\n      ".join(v["nodes"])
        for v in violations(page)
        if v["impact"] in BLOCKING
    ]


def dump(found: list[dict]) -> str:  # type: ignore[type-arg]
    return json.dumps(found, ensure_ascii=False, indent=1)
