"""Loading and validating instrument files (wellbeing.screening.engine.instruments)."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from wellbeing.screening.engine.instruments import (
    BUILTIN_DIR,
    Instrument,
    InstrumentError,
    builtin_instruments,
    extend_instruments,
    load_instrument,
    load_instruments,
    round_half_up,
)

FIXTURES = Path(__file__).parent / "fixtures"
LT = {"zh_CN": "文本", "en": "Text"}
Edit = Callable[[dict[str, Any]], None]


def opt(value: Any) -> dict[str, Any]:
    return {"value": value, "label": LT}


def band(code: str, lower: float, upper: float) -> dict[str, Any]:
    return {"code": code, "lower": lower, "upper": upper, "label": LT}


def mini() -> dict[str, Any]:
    """A small valid instrument; each error case edits one thing."""
    return {
        "code": "mini",
        "version": "1",
        "name": {"zh_CN": "迷你", "en": "Mini"},
        "licence": "test",
        "grades": [7, 8],
        "option_sets": {"f": [opt(0), opt(1), opt(2), opt(3)]},
        "items": [{"code": f"i{n}", "text": LT, "options": "f"} for n in range(1, 5)],
        "scales": [
            {"code": "sub", "name": LT, "items": ["i1", "i2"], "bands": [band("lo", 0, 2), band("hi", 3, 6)]}
        ],
        "total": {"name": LT, "items": ["i1", "i2", "i3", "i4"], "bands": [band("a", 0, 5), band("b", 6, 12)]},
        "critical": [{"code": "crit", "item": "i4", "at_least": 2}],
        "tier_rules": [
            {"code": "r1", "tier": 1, "scale": "total", "bands": ["b"]},
            {"code": "r2", "tier": 3, "critical": "crit", "provisional": True},
        ],
        "metadata": {"loinc": {"scales": {"total": "0000-0"}}},
    }  # fmt: skip


def put(*path: Any, value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def drop(*path: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return edit


def write(directory: Path, data: Any, name: str = "mini.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_builtins_load() -> None:
    instruments = builtin_instruments()
    assert set(instruments) == {"phq9", "gad7"}
    for inst in instruments.values():
        assert inst.grades == tuple(range(4, 13))
        assert inst.show_item_texts
        assert "Pfizer Inc. No permission required to reproduce" in inst.licence
        assert inst.total == "total"
        assert inst.stem and inst.stem.en.startswith("Over the last 2 weeks")
        assert all(i.text.zh_CN and i.text.en for i in inst.items)
    builtin_instruments().clear()  # callers get a copy, never the cache
    assert set(builtin_instruments()) == {"phq9", "gad7"}


def test_phq9_definition() -> None:
    phq9 = builtin_instruments()["phq9"]
    assert [i.code for i in phq9.items] == [f"phq9_{n}" for n in range(1, 11)]
    assert not phq9.item("phq9_10").scored
    assert [o.label.zh_CN for o in phq9.item("phq9_1").options] == [
        "完全不会", "好几天", "一半以上的天数", "几乎每天"
    ]  # fmt: skip
    assert next(o.label.en for o in phq9.item("phq9_10").options) == "Not difficult at all"
    total = phq9.scale("total")
    assert (total.minimum, total.maximum) == (0, 27)
    assert [(b.code, b.lower, b.upper) for b in total.bands] == [
        ("minimal", 0, 4), ("mild", 5, 9), ("moderate", 10, 14),
        ("moderately_severe", 15, 19), ("severe", 20, 27),
    ]  # fmt: skip
    assert phq9.loinc() == "44249-1" and phq9.loinc("total") == "44261-6"
    assert phq9.critical_rules[0].item == "phq9_9"
    assert {r.code: (r.tier, r.provisional) for r in phq9.tier_rules} == {
        "phq9_total_10_14": (1, False), "phq9_total_15_plus": (2, False), "phq9_item9_red": (3, True)
    }  # fmt: skip


def test_gad7_definition() -> None:
    gad7 = builtin_instruments()["gad7"]
    assert len(gad7.items) == 7 and all(i.scored for i in gad7.items)
    total = gad7.scale("total")
    assert (total.minimum, total.maximum) == (0, 21)
    assert [(b.lower, b.upper) for b in total.bands] == [(0, 4), (5, 9), (10, 14), (15, 21)]
    assert gad7.loinc() == "69737-5" and gad7.loinc("total") == "70274-6"
    assert [r.tier for r in gad7.tier_rules] == [1, 2]


def test_full_feature_instrument_loads() -> None:
    inst = load_instrument(FIXTURES / "full_feature.yaml")
    assert isinstance(inst, Instrument) and inst.source == "full_feature.yaml"
    assert [i.code for i in inst.items if i.reverse] == ["w2", "w4", "e3", "l3"]
    assert [i.code for i in inst.items if not i.scored] == ["u1"]
    wellbeing = inst.scale("wellbeing")
    assert (wellbeing.method, wellbeing.integer, wellbeing.max_missing) == ("mean", False, 1)
    assert (wellbeing.minimum, wellbeing.maximum) == (1.0, 5.0)
    assert inst.scale("emotional").max_missing == 2
    assert inst.scale("lie").void is not None and inst.scale("lie").void.reason == "lie_scale_high"
    total = inst.scale("total")
    assert total.is_total and total.scales == ("emotional", "conduct")
    assert (total.minimum, total.maximum) == (0, 16)
    assert {i.min_value for i in inst.items} == {0, 1}
    assert {i.max_value for i in inst.items} == {1, 2, 3, 5}
    assert any(r.provisional for r in inst.tier_rules)
    assert not inst.show_item_texts


def test_mini_is_valid(tmp_path: Path) -> None:
    inst = load_instrument(write(tmp_path, mini()))
    assert inst.code == "mini" and [s.code for s in inst.scales] == ["sub", "total"]


ERRORS: list[tuple[list[Edit], str]] = [
    ([put("items", 2, "options", value=[opt(0), opt("x")])], "items[2].options[1].value: must be an integer"),
    ([put("code", value="Mini")], "code: must be a code"),
    ([put("version", value=1.0)], "version: must be a string"),
    ([drop("licence")], "mini.yaml: missing required key 'licence'"),
    ([put("colour", value="red")], "mini.yaml: unknown key 'colour'"),
    ([put("items", 0, "colour", value=1)], "items[0]: unknown key 'colour'"),
    ([put("items", 0, "text", value={"zh_CN": "只有中文"})], "items[0].text: missing required key 'en'"),
    ([put("tier_rules", 0, "tier", value=4)], "tier_rules[0].tier: must be at most 3"),
    ([put("grades", value=[])], "grades: must not be empty"),
    ([put("grades", value=[7, 7])], "grades: must not contain duplicates"),
    ([put("total", "method", value="median")], "total.method: must be one of"),
    ([put("items", 1, "options", value=3)], "items[1].options: must be a string or a list"),
    ([put("items", 1, "options", value="nope")], "items[1].options: unknown option set 'nope'"),
    ([put("items", 1, "options", value=[opt(0), opt(0)])], "items[1].options: duplicate option values"),
    ([put("items", 1, "options", value=[opt(0)])], "items[1].options: must have at least 2 entries"),
    ([put("items", 3, "code", value="i1")], "items[3].code: duplicate item code 'i1'"),
    ([put("scales", 0, "items", 1, value="zz")], "scales[0].items[1]: unknown item 'zz'"),
    ([put("items", 0, "scored", value=False)], "scales[0].items[0]: item 'i1' is unscored"),
    ([put("scales", 0, "items", value=["i1", "i1"])], "scales[0].items: must not contain duplicates"),
    ([put("total", "scales", value=["sub"])], "total: needs exactly one of 'items' or 'scales'"),
    ([drop("total", "items"), put("total", "scales", value=["nope"])], "total.scales[0]: unknown scale 'nope'"),
    ([lambda d: d["scales"].append(copy.deepcopy(d["scales"][0]))], "scales[1].code: duplicate scale code 'sub'"),
    ([put("scales", 0, "max_missing", value=2)], "scales[0].max_missing: must be less than the number of items (2)"),
    ([put("items", 1, "options", value=[opt(0), opt(1)]), put("scales", 0, "max_missing", value=1)],
     "scales[0].max_missing: prorating needs items sharing one value range"),
    ([drop("total", "items"), put("total", "scales", value=["sub"]), put("total", "max_missing", value=1)],
     "total.max_missing: prorating applies to item scales only"),
    ([put("total", "bands", value=[band("a", 0, 4), band("b", 6, 12)])],
     "total.bands: gap between bands 'a' (to 4) and 'b' (from 6)"),
    ([put("total", "bands", value=[band("a", 0, 6), band("b", 6, 12)])], "total.bands: bands 'a' and 'b' overlap"),
    ([put("total", "bands", value=[band("a", 0, 9), band("b", 4, 12)])], "total.bands: bands 'a' and 'b' overlap"),
    ([put("total", "bands", value=[band("a", 1, 5), band("b", 6, 12)])],
     "total.bands: bands start at 1 but the scale's minimum is 0"),
    ([put("total", "bands", value=[band("a", 0, 5), band("b", 6, 11)])],
     "total.bands: bands end at 11 but the scale's maximum is 12"),
    ([put("total", "bands", 0, value=band("a", 5, 0))], "total.bands[0]: lower 5 is greater than upper 0"),
    ([put("total", "bands", 0, "upper", value=5.5)], "total.bands[0].upper: 5.5 is not a possible value"),
    ([put("total", "bands", 1, "code", value="a")], "total.bands[1].code: duplicate band code 'a'"),
    ([put("scales", 0, "method", value="mean"), put("scales", 0, "bands", value=[band("x", 0, 1.499), band("y", 1.5, 3)])],
     "scales[0].bands[0].upper: 1.499 is not a possible value"),
    ([put("critical", 0, "item", value="zz")], "critical[0].item: unknown item 'zz'"),
    ([drop("critical", 0, "at_least")], "critical[0]: needs at_least and/or at_most"),
    ([put("critical", 0, "at_most", value=1)], "critical[0]: at_least is greater than at_most"),
    ([lambda d: d["critical"].append({"code": "crit", "item": "i1", "at_least": 1})],
     "critical[1].code: duplicate critical rule code 'crit'"),
    ([put("tier_rules", 0, "scale", value="nope")], "tier_rules[0].scale: unknown scale 'nope'"),
    ([put("tier_rules", 0, "bands", value=["zz"])], "tier_rules[0].bands[0]: scale 'total' has no band 'zz'"),
    ([put("tier_rules", 1, "critical", value="zz")], "tier_rules[1].critical: unknown critical rule 'zz'"),
    ([put("tier_rules", 1, "scale", value="total")], "tier_rules[1]: needs exactly one of 'scale' or 'critical'"),
    ([drop("tier_rules", 0, "scale"), drop("tier_rules", 0, "bands")], "tier_rules[0]: needs exactly one of"),
    ([put("tier_rules", 1, "at_least", value=1)], "tier_rules[1]: a critical condition takes no bands or bounds"),
    ([put("tier_rules", 0, "at_least", value=3)], "tier_rules[0]: use either bands or at_least/at_most"),
    ([drop("tier_rules", 0, "bands")], "tier_rules[0]: needs at_least and/or at_most"),
    ([put("tier_rules", 1, "code", value="r1")], "tier_rules[1].code: duplicate tier rule code 'r1'"),
    ([put("metadata", "loinc", "scales", "nope", value="1-1")], "metadata.loinc.scales.nope: unknown scale 'nope'"),
    ([put("scales", 0, "void", value={"reason": "lie"})], "scales[0].void: needs at_least and/or at_most"),
]  # fmt: skip


@pytest.mark.parametrize(("edits", "message"), ERRORS, ids=[m for _, m in ERRORS])
def test_validation_errors(tmp_path: Path, edits: list[Edit], message: str) -> None:
    data = mini()
    for edit in edits:
        edit(data)
    with pytest.raises(InstrumentError) as info:
        load_instrument(write(tmp_path, data))
    assert str(info.value).startswith("mini.yaml: ")
    assert message in str(info.value)


def test_error_names_file_and_path(tmp_path: Path) -> None:
    data = mini()
    data["items"][3]["options"] = [opt(0), opt(True)]
    with pytest.raises(InstrumentError) as info:
        load_instrument(write(tmp_path, data, "phq9.yaml"))
    assert str(info.value) == "phq9.yaml: items[3].options[1].value: must be an integer"
    assert (info.value.file, info.value.path) == ("phq9.yaml", "items[3].options[1].value")


def test_several_schema_problems_are_counted(tmp_path: Path) -> None:
    data = mini()
    data["version"], data["licence"] = 2, 3
    with pytest.raises(InstrumentError, match=r"and 1 more problem"):
        load_instrument(write(tmp_path, data))


def test_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("code: x\nitems: [a, b\n", encoding="utf-8")
    with pytest.raises(
        InstrumentError, match=r"^broken\.yaml: invalid YAML at line \d+, column \d+"
    ):
        load_instrument(path)


def test_yaml_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(InstrumentError, match=r"^list\.yaml: must be a mapping$"):
        load_instrument(write(tmp_path, ["a", "b"], "list.yaml"))


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("code: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    with pytest.raises(InstrumentError, match="invalid YAML"):
        load_instrument(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InstrumentError, match=r"^nope\.yaml: cannot read file"):
        load_instrument(tmp_path / "nope.yaml")
    with pytest.raises(InstrumentError, match="not a directory"):
        load_instruments(tmp_path / "nope")


def test_load_directory(tmp_path: Path) -> None:
    write(tmp_path, mini(), "a.yaml")
    other = mini()
    other["code"] = "other"
    write(tmp_path, other, "b.yml")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    assert sorted(load_instruments(tmp_path)) == ["mini", "other"]


def test_duplicate_code_within_a_directory(tmp_path: Path) -> None:
    write(tmp_path, mini(), "a.yaml")
    write(tmp_path, mini(), "b.yaml")
    with pytest.raises(
        InstrumentError,
        match=r"^b\.yaml: code: instrument code 'mini' is already defined in a\.yaml",
    ):
        load_instruments(tmp_path)


def test_district_directory_extends_builtins(tmp_path: Path) -> None:
    write(tmp_path, mini())
    merged = extend_instruments(builtin_instruments(), tmp_path)
    assert sorted(merged) == ["gad7", "mini", "phq9"]
    assert sorted(builtin_instruments()) == ["gad7", "phq9"]


def test_district_directory_duplicate_code_is_an_error(tmp_path: Path) -> None:
    shutil.copy(BUILTIN_DIR / "phq9.yaml", tmp_path / "my_phq9.yaml")
    with pytest.raises(
        InstrumentError,
        match=r"^my_phq9\.yaml: code: instrument code 'phq9' is already defined in phq9\.yaml",
    ):
        extend_instruments(builtin_instruments(), tmp_path)


def test_round_half_up() -> None:
    from fractions import Fraction

    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(7, 2)) == 4  # banker's rounding would give 4 here and 2 above
    assert round_half_up(Fraction(245, 100), 1) == Fraction(25, 10)
    assert round_half_up(Fraction(4, 3), 2) == Fraction(133, 100)
    assert round_half_up(Fraction(-5, 2)) == -2  # towards +∞
