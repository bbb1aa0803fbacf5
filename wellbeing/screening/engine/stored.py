"""What the intake stores of a scored response: the JSON payload that is encrypted, and the
metadata columns (bands, tier, flags), memoised by answer pattern.

A district's 600,000 responses repeat far fewer answer patterns (most students answer most
items 0 or 1), so scoring and JSON encoding run once per pattern, up to ``MEMO_LIMIT``
patterns (about 30 MB).
"""

from __future__ import annotations

import json
from typing import NamedTuple

from .instruments import Instrument
from .scoring import score_fast

MEMO_LIMIT = 50_000


class Scored(NamedTuple):
    payload: bytes  # {"answers": {item: value|None}, "scores": ScoreResult.to_dict()}
    total_band: str | None
    bands: dict[str, str]
    bands_json: str
    tier: int
    tier_rule: str | None
    critical: bool
    voided: bool
    incomplete: bool


class Scorer:
    """``scorer(instrument, answers)`` → :class:`Scored`; ``answers`` lists every item of the
    instrument in its order (the memo key is the tuple of values)."""

    def __init__(self, limit: int = MEMO_LIMIT) -> None:
        self._memo: dict[tuple[str, tuple[int | None, ...]], Scored] = {}
        self._limit = limit

    def __call__(self, instrument: Instrument, answers: dict[str, int | None]) -> Scored:
        key = (instrument.code, tuple(answers.values()))
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        scored = _stored(instrument, answers)
        if len(self._memo) < self._limit:
            self._memo[key] = scored
        return scored


def _stored(instrument: Instrument, answers: dict[str, int | None]) -> Scored:
    result = score_fast(instrument, answers)
    scales = result.scales
    bands = {code: s.band for code, s in scales.items() if s.band is not None}
    total = scales.get(instrument.total) if instrument.total else None
    fired = [r for r in instrument.tier_rules if r.code in result.tier_rules]
    top = max(fired, key=lambda r: r.tier, default=None)
    payload = {"answers": answers, "scores": result.to_dict()}
    return Scored(
        payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
        total_band=total.band if total else None,
        bands=bands,
        bands_json=json.dumps(bands),
        tier=result.tier,
        tier_rule=top.code if top and result.tier else None,
        critical=bool(result.critical),
        voided=result.void,
        incomplete=any(s.incomplete for s in scales.values()),
    )
