"""Screening instruments defined as data: parsing and validating a file into its parsed form.

The YAML format, documented key by key, is in :mod:`.schema` beside the structural schema it
meets first; this module parses a valid file into the frozen dataclasses below and checks the
cross-references (unknown items, band tiling, ...).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, NoReturn

import jsonschema
import yaml

from .schema import SCHEMA, describe_error, error_path

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "instruments"


class InstrumentError(ValueError):
    """An instrument file is unreadable or invalid; the message names the file and the path."""

    def __init__(self, file: str, path: str, message: str) -> None:
        self.file, self.path, self.reason = file, path, message
        super().__init__(f"{file}: {path}: {message}" if path else f"{file}: {message}")


@dataclass(frozen=True)
class LocalizedText:
    zh_CN: str
    en: str

    def get(self, locale: str = "zh_CN") -> str:
        return self.en if locale.startswith("en") else self.zh_CN


@dataclass(frozen=True)
class Option:
    value: int
    label: LocalizedText


@dataclass(frozen=True)
class Item:
    code: str
    text: LocalizedText
    options: tuple[Option, ...]
    reverse: bool = False
    scored: bool = True

    @functools.cached_property
    def values(self) -> frozenset[int]:
        return frozenset(o.value for o in self.options)

    @functools.cached_property
    def min_value(self) -> int:
        return min(self.values)

    @functools.cached_property
    def max_value(self) -> int:
        return max(self.values)

    def option(self, value: int) -> Option | None:
        return next((o for o in self.options if o.value == value), None)

    def score(self, raw: int) -> int:
        """Scored value of a raw answer: reversed items map min↔max (max + min − raw)."""
        return self.max_value + self.min_value - raw if self.reverse else raw


@dataclass(frozen=True)
class Threshold:
    """Inclusive bounds; a missing bound is open."""

    at_least: float | None = None
    at_most: float | None = None

    def matches(self, value: float) -> bool:
        return (self.at_least is None or value >= self.at_least) and (
            self.at_most is None or value <= self.at_most
        )


@dataclass(frozen=True)
class Band:
    code: str
    lower: int | float
    upper: int | float
    label: LocalizedText


@dataclass(frozen=True)
class VoidRule:
    threshold: Threshold
    reason: str


@dataclass(frozen=True)
class Scale:
    """A scored scale.  ``integer`` scales (sums of items or of integer scales) report ints;
    the others are rounded half-up to ``decimals`` places.  ``minimum``/``maximum`` are the
    theoretical range, computed at load time from the items' option values."""

    code: str
    name: LocalizedText
    method: Literal["sum", "mean"]
    items: tuple[str, ...]
    scales: tuple[str, ...]
    max_missing: int
    decimals: int
    integer: bool
    minimum: int | float
    maximum: int | float
    bands: tuple[Band, ...] = ()
    void: VoidRule | None = None
    is_total: bool = False

    def band_for(self, value: float | None) -> Band | None:
        if value is None:
            return None
        return next((b for b in self.bands if b.lower <= value <= b.upper), None)

    def number(self, exact: Fraction) -> int | float:
        """Round an exact value the way this scale reports it (half-up, see ``round_half_up``)."""
        return _number(exact, self.integer, self.decimals)


@dataclass(frozen=True)
class CriticalRule:
    code: str
    item: str
    threshold: Threshold
    label: LocalizedText | None = None


@dataclass(frozen=True)
class TierRule:
    """Fires on a scale (``bands`` or ``threshold``) or on a critical rule code."""

    code: str
    tier: int
    provisional: bool = False
    scale: str | None = None
    bands: tuple[str, ...] = ()
    threshold: Threshold | None = None
    critical: str | None = None
    label: LocalizedText | None = None


@dataclass(frozen=True)
class Instrument:
    code: str
    version: str
    name: LocalizedText
    licence: str
    grades: tuple[int, ...]
    items: tuple[Item, ...]
    scales: tuple[Scale, ...]
    total: str | None
    critical_rules: tuple[CriticalRule, ...]
    tier_rules: tuple[TierRule, ...]
    show_item_texts: bool = True
    description: LocalizedText | None = None
    stem: LocalizedText | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    origin: str = ""

    @functools.cached_property
    def items_by_code(self) -> dict[str, Item]:
        return {i.code: i for i in self.items}

    def item(self, code: str) -> Item:
        return self.items_by_code[code]

    def scale(self, code: str) -> Scale:
        return next(s for s in self.scales if s.code == code)

    def loinc(self, scale: str | None = None) -> str | None:
        """LOINC code of a scale, or of the panel when ``scale`` is None."""
        codes = self.metadata.get("loinc", {})
        return codes.get("panel") if scale is None else codes.get("scales", {}).get(scale)


def round_half_up(value: Fraction, decimals: int = 0) -> Fraction:
    """Round exactly, .5 going up (towards +∞): 2.5 → 3, 2.45 → 2.5 at one place.

    Not Python's ``round`` (banker's rounding, and binary floats): scores must match what a
    psychology teacher computes by hand."""
    q = Fraction(10) ** decimals
    return Fraction(math.floor(value * q + Fraction(1, 2)), q)


def _lt(d: Mapping[str, str] | None) -> LocalizedText | None:
    return LocalizedText(d["zh_CN"], d["en"]) if d else None


def _text(d: Mapping[str, str]) -> LocalizedText:
    """A text the schema requires (item texts, option labels, names)."""
    return LocalizedText(d["zh_CN"], d["en"])


Fail = Callable[[str, str], NoReturn]


def _threshold(d: Mapping[str, Any], fail: Fail, path: str) -> Threshold:
    t = Threshold(d.get("at_least"), d.get("at_most"))
    if t.at_least is None and t.at_most is None:
        fail(path, "needs at_least and/or at_most")
    if t.at_least is not None and t.at_most is not None and t.at_least > t.at_most:
        fail(path, "at_least is greater than at_most")
    return t


def _unique(p: str, code: str, seen: Iterable[Any], what: str, fail: Fail) -> str:
    if any(x.code == code for x in seen):
        fail(f"{p}.code", f"duplicate {what} code '{code}'")
    return code


def parse_instrument(data: Any, source: str = "<instrument>") -> Instrument:
    """Validate a decoded YAML document (schema, then cross-references) and build it."""

    def fail(path: str, message: str) -> NoReturn:
        raise InstrumentError(source, path, message)

    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        fail(error_path(err.absolute_path), describe_error(err) + more)
    sets = data.get("option_sets", {})
    items: list[Item] = []
    for n, it in enumerate(data["items"]):
        p, opts = f"items[{n}]", it["options"]
        code = _unique(p, it["code"], items, "item", fail)
        if isinstance(opts, str):
            opts = sets.get(opts) or fail(f"{p}.options", f"unknown option set '{opts}'")
        if len(opts) < 2:
            fail(f"{p}.options", "must have at least 2 entries")
        if len({o["value"] for o in opts}) != len(opts):
            fail(f"{p}.options", "duplicate option values")
        options = tuple(Option(int(o["value"]), _text(o["label"])) for o in opts)
        text = _text(it["text"])
        items.append(Item(code, text, options, it.get("reverse", False), it.get("scored", True)))
    by_code = {i.code: i for i in items}
    scales: dict[str, Scale] = {}
    raw = [(f"scales[{n}]", s) for n, s in enumerate(data.get("scales", []))]
    total = data["total"].get("code", "total") if "total" in data else None
    if total:
        raw.append(("total", {**data["total"], "code": total}))
    for p, s in raw:
        scales[s["code"]] = _build_scale(p, s, s["code"] == total, by_code, scales, fail)
    critical: list[CriticalRule] = []
    for n, c in enumerate(data.get("critical", [])):
        code = _unique(f"critical[{n}]", c["code"], critical, "critical rule", fail)
        if c["item"] not in by_code:
            fail(f"critical[{n}].item", f"unknown item '{c['item']}'")
        threshold = _threshold(c, fail, f"critical[{n}]")
        critical.append(CriticalRule(code, c["item"], threshold, _lt(c.get("label"))))
    rules: list[TierRule] = []
    for n, r in enumerate(data.get("tier_rules", [])):
        rules.append(_build_rule(f"tier_rules[{n}]", r, scales, critical, rules, fail))
    for code in data.get("metadata", {}).get("loinc", {}).get("scales", {}):
        if code not in scales:
            fail(f"metadata.loinc.scales.{code}", f"unknown scale '{code}'")
    return Instrument(
        code=data["code"], version=data["version"], name=_text(data["name"]),
        licence=data["licence"], grades=tuple(sorted(data["grades"])), items=tuple(items),
        scales=tuple(scales.values()), total=total, critical_rules=tuple(critical),
        tier_rules=tuple(rules), show_item_texts=data.get("show_item_texts", True),
        description=_lt(data.get("description")), stem=_lt(data.get("stem")),
        metadata=data.get("metadata", {}), source=source, origin=data.get("origin", ""),
    )  # fmt: skip


def _number(exact: Fraction, integer: bool, decimals: int) -> int | float:
    """How a scale reports an exact value: an int, or a float rounded half-up to ``decimals``."""
    if integer:
        return math.floor(exact + Fraction(1, 2))
    return float(round_half_up(exact, decimals))


def _build_scale(
    p: str, s: dict[str, Any], is_total: bool, items: Mapping[str, Item],
    earlier: Mapping[str, Scale], fail: Fail,
) -> Scale:  # fmt: skip
    code = _unique(p, s["code"], earlier.values(), "scale", fail)
    method, decimals, max_missing = (
        s.get("method", "sum"),
        s.get("decimals", 2),
        s.get("max_missing", 0),
    )
    if ("items" in s) == ("scales" in s):
        fail(p, "needs exactly one of 'items' or 'scales'")
    key = "items" if "items" in s else "scales"
    refs: list[str] = s[key]
    if len(set(refs)) != len(refs):
        fail(f"{p}.{key}", "must not contain duplicates")
    ranges: list[tuple[Fraction, Fraction]] = []
    integer = method == "sum"
    for n, ref in enumerate(refs):
        if key == "items":
            item = items.get(ref) or fail(f"{p}.items[{n}]", f"unknown item '{ref}'")
            if not item.scored:
                fail(f"{p}.items[{n}]", f"item '{ref}' is unscored")
            ranges.append((Fraction(item.min_value), Fraction(item.max_value)))
        else:
            sub = earlier.get(ref) or fail(f"{p}.scales[{n}]", f"unknown scale '{ref}'")
            integer = integer and sub.integer
            ranges.append((Fraction(str(sub.minimum)), Fraction(str(sub.maximum))))
    if max_missing and key == "scales":
        fail(f"{p}.max_missing", "prorating applies to item scales only")
    if max_missing >= len(refs):
        fail(f"{p}.max_missing", f"must be less than the number of items ({len(refs)})")
    if max_missing and len(set(ranges)) > 1:
        fail(f"{p}.max_missing", "prorating needs items sharing one value range")
    divisor = len(refs) if method == "mean" else 1
    lo, hi = (sum((r[i] for r in ranges), Fraction(0)) / divisor for i in (0, 1))
    minimum, maximum = _number(lo, integer, decimals), _number(hi, integer, decimals)
    step = Fraction(1) if integer else Fraction(1, 10**decimals)
    bands = _build_bands(f"{p}.bands", s.get("bands", []), step, minimum, maximum, fail)
    void = None
    if "void" in s:
        void = VoidRule(_threshold(s["void"], fail, f"{p}.void"), s["void"]["reason"])
    return Scale(
        code, _text(s["name"]), method, tuple(s.get("items", ())), tuple(s.get("scales", ())),
        max_missing, decimals, integer, minimum, maximum, bands, void, is_total,
    )  # fmt: skip


def _build_bands(
    p: str, raw: list[dict[str, Any]], step: Fraction, minimum: float, maximum: float, fail: Fail
) -> tuple[Band, ...]:
    """Bands must tile [minimum, maximum] on the scale's grid (1, or 10^-decimals)."""
    bands: list[tuple[Fraction, Fraction, Band]] = []
    for n, b in enumerate(raw):
        code = _unique(f"{p}[{n}]", b["code"], [t[2] for t in bands], "band", fail)
        lo, hi = Fraction(str(b["lower"])), Fraction(str(b["upper"]))
        for key, v in (("lower", lo), ("upper", hi)):
            if v % step:
                fail(f"{p}[{n}].{key}", f"{b[key]} is not a possible value of this scale")
        if lo > hi:
            fail(f"{p}[{n}]", f"lower {b['lower']} is greater than upper {b['upper']}")
        as_number = int if step == 1 else float
        bands.append((lo, hi, Band(code, as_number(lo), as_number(hi), _text(b["label"]))))
    if not bands:
        return ()
    bands.sort(key=lambda t: t[0])
    if bands[0][0] != Fraction(str(minimum)):
        fail(p, f"bands start at {bands[0][2].lower} but the scale's minimum is {minimum}")
    if bands[-1][1] != Fraction(str(maximum)):
        fail(p, f"bands end at {bands[-1][2].upper} but the scale's maximum is {maximum}")
    for (_, hi, below), (lo, _, above) in itertools.pairwise(bands):
        if lo <= hi:
            fail(p, f"bands '{below.code}' and '{above.code}' overlap")
        if lo > hi + step:
            fail(
                p,
                f"gap between bands '{below.code}' (to {below.upper}) and '{above.code}' (from {above.lower})",
            )
    return tuple(t[2] for t in bands)


def _build_rule(
    p: str, r: dict[str, Any], scales: Mapping[str, Scale], critical: list[CriticalRule],
    earlier: list[TierRule], fail: Fail,
) -> TierRule:  # fmt: skip
    code = _unique(p, r["code"], earlier, "tier rule", fail)
    base = {"code": code, "tier": r["tier"], "provisional": r.get("provisional", False),
            "label": _lt(r.get("label"))}  # fmt: skip
    if ("scale" in r) == ("critical" in r):
        fail(p, "needs exactly one of 'scale' or 'critical'")
    if "critical" in r:
        if {"bands", "at_least", "at_most"} & set(r):
            fail(p, "a critical condition takes no bands or bounds")
        if not any(c.code == r["critical"] for c in critical):
            fail(f"{p}.critical", f"unknown critical rule '{r['critical']}'")
        return TierRule(**base, critical=r["critical"])
    scale = scales.get(r["scale"]) or fail(f"{p}.scale", f"unknown scale '{r['scale']}'")
    if "bands" not in r:
        return TierRule(**base, scale=scale.code, threshold=_threshold(r, fail, p))
    if {"at_least", "at_most"} & set(r):
        fail(p, "use either bands or at_least/at_most, not both")
    for n, b in enumerate(r["bands"]):
        if not any(x.code == b for x in scale.bands):
            fail(f"{p}.bands[{n}]", f"scale '{scale.code}' has no band '{b}'")
    return TierRule(**base, scale=scale.code, bands=tuple(r["bands"]))


def with_tier_rules(instrument: Instrument, rules: list[dict[str, Any]]) -> Instrument:
    """``instrument`` with other tier rules (a district policy's), validated like the file's."""

    def fail(path: str, message: str) -> NoReturn:
        raise InstrumentError(
            "district policy", f"screening_rules.{instrument.code}{path}", message
        )

    scales = {s.code: s for s in instrument.scales}
    built: list[TierRule] = []
    for n, rule in enumerate(rules):
        built.append(
            _build_rule(f"[{n}]", rule, scales, list(instrument.critical_rules), built, fail)
        )
    return dataclasses.replace(instrument, tier_rules=tuple(built))


def load_instrument(path: str | Path) -> Instrument:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InstrumentError(path.name, "", f"cannot read file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InstrumentError(path.name, "", f"invalid YAML{where}: {problem}") from exc
    return parse_instrument(data, path.name)


def extend_instruments(
    base: Mapping[str, Instrument], directory: str | Path
) -> dict[str, Instrument]:
    """``base`` plus every ``*.yaml``/``*.yml`` of ``directory`` (e.g. a district's licensed
    instruments), by code; a code defined twice, in either place, is an error."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InstrumentError(str(directory), "", "not a directory")
    merged = dict(base)
    for file in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        instrument = load_instrument(file)
        if (other := merged.get(instrument.code)) is not None:
            msg = f"instrument code '{instrument.code}' is already defined in {other.source}"
            raise InstrumentError(instrument.source, "code", msg)
        merged[instrument.code] = instrument
    return merged


def load_instruments(directory: str | Path) -> dict[str, Instrument]:
    """Every instrument file of a directory, by code."""
    return extend_instruments({}, directory)


@functools.cache
def _builtins() -> dict[str, Instrument]:
    return load_instruments(BUILTIN_DIR)


def builtin_instruments() -> dict[str, Instrument]:
    """The shipped instruments (parsed once; a fresh dict each call, the instruments are frozen)."""
    return dict(_builtins())
