"""Scoring is pure: property tests (Hypothesis) over the shipped instruments and the test-only
instrument that uses every feature of the format."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wellbeing.screening.engine.instruments import (
    Instrument,
    builtin_instruments,
    load_instrument,
    with_tier_rules,
)
from wellbeing.screening.engine.scoring import AnswerError, ScoreResult, score, score_fast

FULL = load_instrument(Path(__file__).parent / "fixtures" / "full_feature.yaml")
BUILTINS = builtin_instruments()
ALL = [BUILTINS["phq9"], BUILTINS["gad7"], FULL]


def answers_for(
    instrument: Instrument, missing: bool = True
) -> st.SearchStrategy[dict[str, int | None]]:
    parts = {}
    for item in instrument.items:
        values = st.sampled_from(sorted(item.values))
        parts[item.code] = st.one_of(st.none(), values) if missing else values
    return st.fixed_dictionaries(parts)


@pytest.mark.parametrize("instrument", ALL, ids=lambda i: i.code)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_every_scale_is_in_range_and_banded(instrument: Instrument, data: st.DataObject) -> None:
    answers = data.draw(answers_for(instrument))
    result = score(instrument, answers)
    for scale in instrument.scales:
        s = result.scales[scale.code]
        if s.value is None:
            assert s.incomplete and s.band is None
            continue
        assert scale.minimum <= s.value <= scale.maximum
        if scale.bands:
            band = next(b for b in scale.bands if b.code == s.band)
            assert band.lower <= s.value <= band.upper
    assert result.tier in (0, 1, 2, 3)
    assert result.answered + len(result.missing) == len(instrument.items)
    assert ScoreResult.from_dict(result.to_dict()) == result


@pytest.mark.parametrize("instrument", ALL, ids=lambda i: i.code)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_fast_path_equals_full_path(instrument: Instrument, data: st.DataObject) -> None:
    answers = data.draw(answers_for(instrument, missing=data.draw(st.booleans())))
    assert score_fast(instrument, answers) == score(instrument, answers)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_complete_phq9_total_is_the_plain_sum(data: st.DataObject) -> None:
    phq9 = BUILTINS["phq9"]
    answers = data.draw(answers_for(phq9, missing=False))
    result = score(phq9, answers)
    assert result.scales["total"].value == sum(answers[f"phq9_{n}"] for n in range(1, 10))
    assert 0 <= result.scales["total"].value <= 27
    assert ("phq9_item9" in result.critical) == (answers["phq9_9"] >= 1)
    if answers["phq9_9"] >= 1:
        assert result.tier == 3 and result.provisional


@pytest.mark.parametrize("item", [i for i in FULL.items if i.scored], ids=lambda i: i.code)
def test_reverse_scoring_is_an_involution(item) -> None:  # type: ignore[no-untyped-def]
    for raw in item.values:
        scored = item.score(raw)
        assert scored in item.values
        assert item.score(scored) == raw
        if item.reverse:
            assert scored == item.max_value + item.min_value - raw
        else:
            assert scored == raw


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_prorating_rules(data: st.DataObject) -> None:
    """Up to max_missing missing items: the mean of the answered items scaled to the full item
    count, rounded half-up; one more missing: incomplete."""
    answers = data.draw(answers_for(FULL))
    result = score(FULL, answers)
    for scale in FULL.scales:
        if not scale.items:
            continue
        answered = [FULL.item(c).score(answers[c]) for c in scale.items if answers[c] is not None]
        missing = len(scale.items) - len(answered)
        s = result.scales[scale.code]
        if missing > scale.max_missing:
            assert s.value is None and s.incomplete
            continue
        assert s.prorated == (missing > 0)
        mean = Fraction(sum(answered), len(answered))
        exact = mean if scale.method == "mean" else mean * len(scale.items)
        assert s.value == scale.number(exact)


@pytest.mark.parametrize("instrument", ALL, ids=lambda i: i.code)
def test_band_boundaries_at_every_cut_off(instrument: Instrument) -> None:
    """At each band's lower and upper bound the band is that band; one grid step beyond, the
    neighbour (for the total of every instrument and every banded subscale)."""
    for scale in instrument.scales:
        step = 1 if scale.integer else 10**-scale.decimals
        for n, band in enumerate(scale.bands):
            assert scale.band_for(band.lower).code == band.code
            assert scale.band_for(band.upper).code == band.code
            if n > 0:
                assert scale.band_for(round(band.lower - step, 4)).code == scale.bands[n - 1].code
            if n < len(scale.bands) - 1:
                assert scale.band_for(round(band.upper + step, 4)).code == scale.bands[n + 1].code


@pytest.mark.parametrize(("total", "band", "tier"), [
    (4, "minimal", 0), (5, "mild", 0), (9, "mild", 0), (10, "moderate", 1), (14, "moderate", 1),
    (15, "moderately_severe", 2), (19, "moderately_severe", 2), (20, "severe", 2), (24, "severe", 2),
])  # fmt: skip
def test_phq9_cut_offs_through_scoring(total: int, band: str, tier: int) -> None:
    values = []
    remaining = total
    for _ in range(8):
        values.append(min(3, remaining))
        remaining -= values[-1]
    answers = {f"phq9_{n + 1}": v for n, v in enumerate(values)} | {"phq9_9": 0}
    result = score(BUILTINS["phq9"], answers)
    assert (result.scales["total"].value, result.scales["total"].band, result.tier) == (
        total,
        band,
        tier,
    )


@pytest.mark.parametrize(
    ("total", "band", "tier"),
    [
        (4, "minimal", 0),
        (9, "mild", 0),
        (10, "moderate", 1),
        (14, "moderate", 1),
        (15, "severe", 2),
        (21, "severe", 2),
    ],
)
def test_gad7_cut_offs(total: int, band: str, tier: int) -> None:
    values, remaining = [], total
    for _ in range(7):
        values.append(min(3, remaining))
        remaining -= values[-1]
    result = score(BUILTINS["gad7"], {f"gad7_{n + 1}": v for n, v in enumerate(values)})
    assert (result.scales["total"].value, result.scales["total"].band, result.tier) == (
        total,
        band,
        tier,
    )


def test_lie_scale_voids_but_critical_still_fires() -> None:
    answers = {i.code: i.min_value for i in FULL.items} | {"l1": 1, "l2": 1, "l3": 0, "e5": 2}
    result = score(FULL, answers)
    assert result.void and result.void_reasons == ("lie_scale_high",)
    assert result.critical == ("self_harm",) and result.tier == 3 and result.provisional
    clean = score(FULL, answers | {"l1": 0, "l2": 0, "l3": 1, "e5": 0})
    assert not clean.void


def test_mean_subscale_rounds_half_up() -> None:
    # w1=4, w2 reverse(2)=4, w3=5, w4 missing → mean 13/3 = 4.333.. → 4.33
    answers = {i.code: None for i in FULL.items} | {"w1": 4, "w2": 2, "w3": 5}
    assert score(FULL, answers).scales["wellbeing"].value == 4.33
    answers |= {"w4": 3}  # reverse(3) = 3 → (4+4+5+3)/4 = 4.0
    assert score(FULL, answers).scales["wellbeing"].value == 4.0


def test_invalid_answers_raise() -> None:
    with pytest.raises(AnswerError, match="unknown item 'x'"):
        score(BUILTINS["phq9"], {"x": 1})
    with pytest.raises(AnswerError, match="value 4 is not one of 0, 1, 2, 3"):
        score(BUILTINS["phq9"], {"phq9_1": 4})
    with pytest.raises(AnswerError):
        score_fast(BUILTINS["phq9"], {"phq9_1": True})


def test_district_tier_rules_replace_the_instrument_rules() -> None:
    phq9 = with_tier_rules(
        BUILTINS["phq9"], [{"code": "strict", "tier": 2, "scale": "total", "at_least": 10}]
    )
    answers = {f"phq9_{n}": 0 for n in range(1, 10)} | {
        "phq9_1": 3,
        "phq9_2": 3,
        "phq9_3": 3,
        "phq9_4": 1,
    }
    assert score(phq9, answers).tier == 2
    assert score(BUILTINS["phq9"], answers).tier == 1
    assert dataclasses.replace(phq9).tier_rules[0].code == "strict"
