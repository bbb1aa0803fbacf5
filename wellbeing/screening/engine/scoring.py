"""Pure scoring of one response to one instrument: no database, no clock, no I/O.

Order of work in ``score``:

1. validate the answers (unknown item codes and values outside an item's options raise
   ``AnswerError``; ``None`` or an absent key means "not answered");
2. score each answered, scored item (reverse-scored items: max + min − raw);
3. compute the scales in definition order (subscales, then the total), with prorating;
4. band each scale; validity scales may void the response;
5. evaluate critical-item rules on the raw answers, then the tier rules.

Rounding: every non-integer result is rounded half-up (.5 goes up, towards +∞) with exact
arithmetic (``fractions.Fraction``), never Python's banker's ``round`` on binary floats, so a
score is what a psychology teacher computes by hand.  A prorated sum is
``round_half_up(mean of answered items × number of items)``, an integer; a mean is rounded to
the scale's ``decimals`` places.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from wellbeing.screening.engine.instruments import Instrument, Scale


class AnswerError(ValueError):
    """The answers don't fit the instrument (unknown item, or a value that is not an option)."""


@dataclass(frozen=True)
class ScaleScore:
    """``value`` is None when the scale is incomplete (more than ``max_missing`` items missing,
    or a component scale incomplete); ``prorated`` when missing items were made up for."""

    value: int | float | None
    band: str | None
    incomplete: bool = False
    prorated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "band": self.band,
            "incomplete": self.incomplete,
            "prorated": self.prorated,
        }


@dataclass(frozen=True)
class ScoreResult:
    """The scores of one response, and the tier decision they imply.

    A void response (a validity scale, e.g. a lie scale, at or over its threshold) has tier 0
    and must be re-administered: its scale scores can't be trusted, so scale-based tier rules
    don't fire.  Critical items are the exception, by design (safety first): a student who
    answers PHQ-9 item 9 ≥ 1 on an otherwise invalid form may still be at risk, so ``critical``
    is still set and tier rules on critical conditions still fire (the tier is then not 0).
    """

    scales: dict[str, ScaleScore]
    void: bool
    void_reasons: tuple[str, ...]
    critical: tuple[str, ...]
    tier: int
    tier_rules: tuple[str, ...]
    provisional: bool
    answered: int
    missing: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form for storage (``from_dict`` reads it back)."""
        return {
            "scales": {code: s.to_dict() for code, s in self.scales.items()},
            "void": self.void,
            "void_reasons": list(self.void_reasons),
            "critical": list(self.critical),
            "tier": self.tier,
            "tier_rules": list(self.tier_rules),
            "provisional": self.provisional,
            "answered": self.answered,
            "missing": list(self.missing),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreResult:
        return cls(
            scales={code: ScaleScore(**s) for code, s in data["scales"].items()},
            void=data["void"],
            void_reasons=tuple(data["void_reasons"]),
            critical=tuple(data["critical"]),
            tier=data["tier"],
            tier_rules=tuple(data["tier_rules"]),
            provisional=data["provisional"],
            answered=data["answered"],
            missing=tuple(data["missing"]),
        )


def validate_answers(instrument: Instrument, answers: dict[str, int | None]) -> dict[str, int]:
    """The answered items (code → raw value), or ``AnswerError`` naming the item and value."""
    items = instrument.items_by_code
    given: dict[str, int] = {}
    for code, value in answers.items():
        item = items.get(code)
        if item is None:
            raise AnswerError(f"{instrument.code}: unknown item '{code}'")
        if value is None:
            continue
        raw: object = value  # typed int, but answers come from JSON and forms: check it is one
        if isinstance(raw, bool) or not isinstance(raw, int) or raw not in item.values:
            allowed = ", ".join(str(v) for v in sorted(item.values))
            raise AnswerError(
                f"{instrument.code}: item '{code}': value {value!r} is not one of {allowed}"
            )
        given[code] = value
    return given


def _scale_score(
    scale: Scale, item_scores: dict[str, int], done: dict[str, ScaleScore]
) -> ScaleScore:
    if scale.items:
        ints = [item_scores[c] for c in scale.items if c in item_scores]
        missing = len(scale.items) - len(ints)
        if missing > scale.max_missing:
            return ScaleScore(None, None, incomplete=True)
        if not missing and scale.method == "sum":  # exact in integers: the common, fast case
            total = sum(ints)
            band = scale.band_for(total)
            return ScaleScore(total, band.code if band else None)
        values = [Fraction(v) for v in ints]
        prorated = missing > 0
        n = len(scale.items)
    else:
        parts = [done[c] for c in scale.scales]
        if any(p.value is None for p in parts):
            return ScaleScore(None, None, incomplete=True)
        values = [Fraction(str(p.value)) for p in parts]
        prorated = any(p.prorated for p in parts)
        n = len(values)
    mean = sum(values, Fraction(0)) / len(values)
    value = scale.number(mean if scale.method == "mean" else mean * n)
    band = scale.band_for(value)
    return ScaleScore(value, band.code if band else None, prorated=prorated)


def score(instrument: Instrument, answers: dict[str, int | None]) -> ScoreResult:
    """Score one response.  ``answers`` maps item codes to raw option values (None = missing).

    Unscored items (e.g. PHQ-9 item 10) count as answered and may trigger critical rules, but
    belong to no scale.  ``missing`` lists every unanswered item, scored or not, in order.
    """
    given = validate_answers(instrument, answers)
    item_scores = {
        item.code: item.score(given[item.code])
        for item in instrument.items
        if item.scored and item.code in given
    }
    scales: dict[str, ScaleScore] = {}
    void_reasons: list[str] = []
    for scale in instrument.scales:
        result = _scale_score(scale, item_scores, scales)
        scales[scale.code] = result
        if scale.void and result.value is not None and scale.void.threshold.matches(result.value):
            void_reasons.append(scale.void.reason)
    return _finish(instrument, scales, tuple(dict.fromkeys(void_reasons)), given)


def _finish(
    instrument: Instrument,
    scales: dict[str, ScaleScore],
    void_reasons: tuple[str, ...],
    given: dict[str, int],
) -> ScoreResult:
    """Critical items on the raw answers, then the tier rules."""
    void = bool(void_reasons)
    critical = tuple(
        rule.code
        for rule in instrument.critical_rules
        if rule.item in given and rule.threshold.matches(given[rule.item])
    )
    fired = []
    for rule in instrument.tier_rules:
        if rule.critical is not None:
            hit = rule.critical in critical
        else:
            s = scales[rule.scale or ""]
            if void or s.value is None:
                hit = False
            elif rule.bands:
                hit = s.band in rule.bands
            else:
                hit = rule.threshold is not None and rule.threshold.matches(s.value)
        if hit:
            fired.append(rule)
    tier = max((r.tier for r in fired), default=0)
    # Provisional when every rule that reaches the top tier is provisional: a confirmed rule
    # at the same tier makes the decision stand on its own.
    top = [r for r in fired if r.tier == tier]
    return ScoreResult(
        scales=scales,
        void=void,
        void_reasons=void_reasons,
        critical=critical,
        tier=tier,
        tier_rules=tuple(r.code for r in fired),
        provisional=bool(top) and all(r.provisional for r in top),
        answered=len(given),
        missing=tuple(item.code for item in instrument.items if item.code not in given),
    )


@dataclass(frozen=True)
class _Plan:
    """What the fast path needs of an instrument whose scales are all plain item sums."""

    values: dict[str, frozenset[int]]
    scored: tuple[str, ...]
    scales: tuple[tuple[str, tuple[str, ...], dict[int, str | None]], ...]


_PLANS: dict[int, tuple[Instrument, _Plan | None]] = {}


def _plan(instrument: Instrument) -> _Plan | None:
    cached = _PLANS.get(id(instrument))
    if cached is not None and cached[0] is instrument:
        return cached[1]
    plan = None
    simple = not any(i.reverse for i in instrument.items) and all(
        s.items and s.method == "sum" and s.void is None for s in instrument.scales
    )
    if simple:
        scales = []
        for scale in instrument.scales:
            bands: dict[int, str | None] = {
                v: b.code
                for v in range(int(scale.minimum), int(scale.maximum) + 1)
                if (b := scale.band_for(v))
            }
            scales.append((scale.code, scale.items, bands))
        plan = _Plan(
            values={i.code: i.values for i in instrument.items},
            scored=tuple(i.code for i in instrument.items if i.scored),
            scales=tuple(scales),
        )
    _PLANS[id(instrument)] = (instrument, plan)
    return plan


def score_fast(instrument: Instrument, answers: dict[str, int | None]) -> ScoreResult:
    """Same result as :func:`score`, faster for the common case (bulk imports): an instrument
    of plain item sums, every scored item answered. Anything else goes to :func:`score`."""
    plan = _plan(instrument)
    if plan is None:
        return score(instrument, answers)
    values = plan.values
    given: dict[str, int] = {}
    for code, value in answers.items():
        allowed = values.get(code)
        if allowed is None or (
            value is not None and (type(value) is not int or value not in allowed)
        ):
            return score(instrument, answers)  # let the full path raise the precise error
        if value is not None:
            given[code] = value
    for code in plan.scored:
        if code not in given:
            return score(instrument, answers)
    scales = {}
    for code, items, bands in plan.scales:
        total = sum(given[c] for c in items)
        scales[code] = ScaleScore(total, bands.get(total))
    return _finish(instrument, scales, (), given)
