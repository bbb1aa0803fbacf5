"""The shape of a district policy body: its JSON schema, and the rules a schema can't say.

A refused body raises :class:`PolicyError` listing :class:`Problem` s with codes and named
values, never jsonschema's English: the policy editor turns them into sentences
(``policy_review.MESSAGES``) that name the setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, cast

import jsonschema
from flask_babel import lazy_gettext as _l

from ..core.errors import DomainError

TIER_LEVELS = (0, 1, 2, 3)
ESCALATION_ROLES = ("psych_teacher", "school_leader", "counsellor")

_CODE = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}$"}
_LABEL = {"type": "string", "minLength": 1, "maxLength": 60}
_HOURS = {"type": ["integer", "null"], "minimum": 1, "maximum": 24 * 366}
_DAYS = {"type": ["integer", "null"], "minimum": 1, "maximum": 366}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["tiers", "district_tiers", "special_care"],
    "properties": {
        "tiers": {
            "type": "array",
            "minItems": 4,
            "maxItems": 4,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "level",
                    "code",
                    "name",
                    "colour",
                    "first_response_hours",
                    "followup_days",
                    "escalation",
                ],
                "properties": {
                    "level": {"type": "integer", "minimum": 0, "maximum": 3},
                    "code": _CODE,
                    "name": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["zh", "en"],
                        "properties": {"zh": _LABEL, "en": _LABEL},
                    },
                    "colour": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
                    "first_response_hours": _HOURS,
                    "followup_days": _DAYS,
                    # optional: the built-in default per level applies when absent
                    "plan_review_days": _DAYS,
                    "escalation": {
                        "type": "array",
                        "maxItems": 6,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["role", "after_minutes"],
                            "properties": {
                                "role": {"enum": list(ESCALATION_ROLES)},
                                "after_minutes": {
                                    "type": "integer",
                                    "minimum": 1,
                                    "maximum": 60 * 24 * 60,
                                },
                            },
                        },
                    },
                },
            },
        },
        "district_tiers": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "integer", "minimum": 1, "maximum": 3},
        },
        "special_care": {
            "type": "array",
            "maxItems": 40,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "zh", "en"],
                "properties": {"code": _CODE, "zh": _LABEL, "en": _LABEL},
            },
        },
        "records": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "transfer_read_days": {"type": "integer", "minimum": 0, "maximum": 366},
                "retention_years": {"type": "integer", "minimum": 1, "maximum": 100},
                "consent_valid_days": {"type": "integer", "minimum": 1, "maximum": 3660},
            },
        },
        "break_glass": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"supervisors": {"type": "boolean"}},
        },
        "screening_rules": {
            "type": "object",
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,31}$"},
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "tier"],
                    "properties": {
                        "code": _CODE,
                        "tier": {"type": "integer", "minimum": 0, "maximum": 3},
                        "provisional": {"type": "boolean"},
                    },
                },
            },
        },
    },
}


class Problem(NamedTuple):
    """One thing wrong with a policy body: where (``parts``, e.g. ``("tiers", 2, "escalation",
    0, "after_minutes")``), what (``code``, see ``policy_review.MESSAGES`` for the sentences)
    and the values the sentence names (``params``)."""

    parts: tuple[str | int, ...]
    code: str
    params: Mapping[str, Any]

    @property
    def path(self) -> str:
        return _path(self.parts)


class PolicyError(DomainError):
    """An invalid policy body; ``problems`` lists :class:`Problem` s (shown translated, naming
    the setting, by the editor: ``policy_review``); ``errors`` the same as ``(path, code)``
    pairs. The message itself names the paths and codes, for the CLI and the API."""

    code = "invalid_policy"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.errors = [(p.path, p.code) for p in problems]
        details = "; ".join(f"{p.path}: {p.code} {dict(p.params)}" for p in problems)
        super().__init__(_l("The policy is not valid: %(details)s"), details=details)


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _problems(error: jsonschema.ValidationError) -> list[Problem]:
    """A schema error as problems with codes and parameters (never jsonschema's English)."""
    parts = tuple(error.absolute_path)
    # The stubs type these as "or Unset"; a raised ValidationError always has them set.
    kind, value = error.validator, cast(Any, error.validator_value)
    instance: Any = error.instance
    if kind == "required":
        missing = [k for k in value if isinstance(instance, dict) and k not in instance]
        return [Problem((*parts, k), "missing", {}) for k in missing]
    if kind == "additionalProperties":
        known = set(cast(Mapping[str, Any], error.schema).get("properties", {}))
        extra = sorted(str(k) for k in instance if k not in known)
        return [Problem((*parts, k), "unknown", {}) for k in extra]
    if kind == "type":
        expected = value if isinstance(value, list) else [value]
        code = "not_mapping" if not parts and "object" in expected else "type"
        return [Problem(parts, code, {"expected": tuple(expected)})]
    if kind in {"minimum", "maximum", "minItems", "maxItems", "minLength", "maxLength"}:
        if parts == ("tiers",) and kind in {"minItems", "maxItems"}:
            return [Problem(parts, "tiers_count", {})]
        return [Problem(parts, kind, {"limit": value})]
    if kind == "enum":
        return [Problem(parts, "enum", {"allowed": tuple(value)})]
    if kind == "pattern":
        return [Problem(parts, "colour" if parts[-1:] == ("colour",) else "code_format", {})]
    if kind == "propertyNames":
        return [Problem((*parts, str(error.instance)), "code_format", {})]
    if kind == "uniqueItems":
        return [Problem(parts, "unique", {})]
    return [Problem(parts, "invalid", {})]


def validate_body(body: Any) -> dict[str, Any]:
    """Check ``body`` against the schema and the rules a schema can't say; return it."""
    validator = jsonschema.Draft202012Validator(SCHEMA)
    problems = sorted(
        (p for e in validator.iter_errors(body) for p in _problems(e)),
        key=lambda p: [str(x) for x in p.parts],
    )
    if problems:
        raise PolicyError(problems)
    levels = [t["level"] for t in body["tiers"]]
    if sorted(levels) != list(TIER_LEVELS):
        problems.append(Problem(("tiers",), "levels", {}))
    for n, tier in enumerate(body["tiers"]):
        minutes = [step["after_minutes"] for step in tier["escalation"]]
        if minutes != sorted(set(minutes)):
            problems.append(Problem(("tiers", n, "escalation"), "ladder_order", {}))
    codes = [c["code"] for c in body["special_care"]]
    for n, code in enumerate(codes):
        if code in codes[:n]:
            problems.append(Problem(("special_care", n, "code"), "duplicate_code", {"code": code}))
    for instrument, rules in (body.get("screening_rules") or {}).items():
        rule_codes = [r["code"] for r in rules]
        for n, code in enumerate(rule_codes):
            if code in rule_codes[:n]:
                problems.append(
                    Problem(("screening_rules", instrument, n, "code"), "duplicate_code",
                            {"code": code})
                )  # fmt: skip
    if problems:
        raise PolicyError(problems)
    return body
