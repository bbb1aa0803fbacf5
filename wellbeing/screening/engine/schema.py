"""The instrument file format, its JSON Schema and the wording of its errors.

This module holds the structural schema (checked first) and turns ``jsonschema`` errors into
short phrases that complete ``"<file>: <path>: ..."``. Cross-references (unknown items, band
tiling, ...) are checked by :mod:`.instruments` after the schema passes.

An instrument is one YAML file (``wellbeing/instruments/*.yaml`` ships PHQ-9 and GAD-7; a
district drops its licensed instruments into its own directory).  Keys (``LT`` = localised
text, a mapping ``{zh_CN: str, en: str}``):

``code``            instrument code, ``[a-z][a-z0-9_]*``, unique across all loaded files
``version``         version string (quote it: ``"1.0"``), part of the FHIR canonical URL
``name``            LT
``description``     LT, optional
``licence``         licence / copyright note shown with the instrument
``origin``          optional: where the wording comes from, for whom it is validated, and
                    which adapted versions exist but are not shipped (and why)
``show_item_texts`` bool, default true; false for licensed instruments whose item texts may
                    not be reproduced on screen or in exports
``grades``          list of school grades (1–12) the instrument applies to
``stem``            LT, optional instruction shown above the items
``option_sets``     optional mapping name → list of options, reused by items
``items``           list of items, in administration order.  Item keys:
                    ``code`` (unique), ``text`` (LT), ``options`` (an option-set name or an
                    inline list of options), ``reverse`` (bool, default false: scored value =
                    max + min − raw over the item's option values), ``scored`` (bool, default
                    true; unscored items, e.g. PHQ-9 item 10, are recorded but belong to no
                    scale).  Option keys: ``value`` (int, unique within the item), ``label`` (LT)
``scales``          optional list of scales (subscales and validity scales), then
``total``           an optional scale that is the instrument's total (its code defaults to
                    ``total``).  Scale keys:
                    ``code`` (unique), ``name`` (LT), ``method`` (``sum`` | ``mean``, default
                    sum), exactly one of ``items`` (scored item codes) or ``scales`` (codes of
                    scales listed earlier), ``max_missing`` (int, default 0: how many items may
                    be unanswered before the scale is incomplete; when > 0 the items must share
                    one value range; only for item scales), ``decimals`` (int 0–4, default 2:
                    rounding of non-integer scales, e.g. means), ``bands`` (optional list of
                    ``{code, lower, upper, label: LT}`` with inclusive bounds that must cover the
                    scale's whole possible range without gaps or overlaps), ``void`` (optional
                    ``{at_least and/or at_most, reason}``: a validity scale, e.g. a lie scale;
                    when its value is within the bounds the whole response is void with
                    ``reason`` as the reason code)
``critical``        optional list of critical-item rules ``{code, item, at_least and/or
                    at_most, label: LT (optional)}`` compared with the raw answered value
``tier_rules``      optional list ``{code, tier (0–3), provisional (bool, default false),
                    label: LT (optional), condition}`` where the condition is either
                    ``scale`` plus ``bands`` (list of band codes) or ``at_least``/``at_most``,
                    or ``critical`` (a critical rule code)
``metadata``        optional free mapping; ``metadata.loinc`` = ``{panel: code, scales:
                    {scale code: LOINC code}}`` is used by the FHIR export
"""

from __future__ import annotations

from typing import Any, cast

import jsonschema


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": props,
    }


def _list(items: dict[str, Any], min_items: int = 0) -> dict[str, Any]:
    return {"type": "array", "items": items, "minItems": min_items}


_STR, _NUM, _BOOL = {"type": "string"}, {"type": "number"}, {"type": "boolean"}
_CODE = {**_STR, "pattern": "^[a-z][a-z0-9_]*$",
         "x-message": "must be a code: lower-case letters, digits and underscores"}  # fmt: skip
_TEXT = {**_STR, "minLength": 1}
_LT = _obj(["zh_CN", "en"], zh_CN=_TEXT, en=_TEXT)
_OPTION = _obj(["value", "label"], value={"type": "integer"}, label=_LT)
_BOUNDS = {"at_least": _NUM, "at_most": _NUM}
_BAND = _obj(["code", "lower", "upper", "label"], code=_CODE, lower=_NUM, upper=_NUM, label=_LT)
_SCALE_PROPS = {
    "code": _CODE, "name": _LT, "method": {"enum": ["sum", "mean"]},
    "items": _list(_STR, 1), "scales": _list(_STR, 1),
    "max_missing": {"type": "integer", "minimum": 0},
    "decimals": {"type": "integer", "minimum": 0, "maximum": 4},
    "bands": _list(_BAND, 1), "void": _obj(["reason"], reason=_CODE, **_BOUNDS),
}  # fmt: skip
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    **_obj(
        ["code", "version", "name", "licence", "grades", "items"],
        code=_CODE, version=_TEXT, name=_LT, description=_LT, licence=_TEXT, origin=_TEXT,
        show_item_texts=_BOOL, stem=_LT,
        grades={**_list({"type": "integer", "minimum": 1, "maximum": 12}, 1), "uniqueItems": True},
        option_sets={"type": "object", "additionalProperties": _list(_OPTION, 2)},
        items=_list(_obj(["code", "text", "options"], code=_CODE, text=_LT, reverse=_BOOL,
                         scored=_BOOL, options={"type": ["string", "array"], "items": _OPTION}), 1),
        scales=_list(_obj(["code", "name"], **_SCALE_PROPS)),
        total=_obj(["name"], **_SCALE_PROPS),
        critical=_list(_obj(["code", "item"], code=_CODE, item=_STR, label=_LT, **_BOUNDS)),
        tier_rules=_list(_obj(["code", "tier"], code=_CODE, provisional=_BOOL, label=_LT,
                              tier={"type": "integer", "minimum": 0, "maximum": 3}, scale=_STR,
                              bands=_list(_STR, 1), critical=_STR, **_BOUNDS)),
        metadata={"type": "object", "properties": {"loinc": _obj(
            [], panel=_STR, scales={"type": "object", "additionalProperties": _STR})}},
    ),
}  # fmt: skip


def error_path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


_TYPES = {"integer": "an integer", "string": "a string", "boolean": "true or false",
          "number": "a number", "array": "a list", "object": "a mapping"}  # fmt: skip


def describe_error(error: jsonschema.ValidationError) -> str:
    """A jsonschema error as a short phrase completing "<file>: <path>: ..."."""
    # The error's fields are typed for any error (``Unset`` before validation); a reported
    # error has them set, and their shapes follow the keyword (``v``), checked below.
    v, val, inst = error.validator, cast(Any, error.validator_value), cast(Any, error.instance)
    schema = cast(dict[str, Any], error.schema)
    if v == "type":
        return "must be " + " or ".join(_TYPES[t] for t in ([val] if isinstance(val, str) else val))
    if v == "required":
        return f"missing required key '{next(k for k in val if k not in inst)}'"
    if v == "additionalProperties":
        extra = sorted(set(inst) - set(schema.get("properties", {})))
        return "unknown key " + ", ".join(f"'{k}'" for k in extra)
    if v == "pattern":
        return str(schema.get("x-message", f"must match {val}"))
    simple = {
        "enum": f"must be one of {val}",
        "minLength": "must not be empty",
        "minItems": "must not be empty" if val == 1 else f"must have at least {val} entries",
        "minimum": f"must be at least {val}",
        "maximum": f"must be at most {val}",
        "uniqueItems": "must not contain duplicates",
    }
    return simple.get(str(v), error.message)
