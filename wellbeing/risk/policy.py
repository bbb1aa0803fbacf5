"""The district tier policy: defaults (DESIGN.md §3), JSON-schema validation, versions.

``current_policy(session, district_id)`` returns a frozen :class:`Policy` built from the newest
:class:`~wellbeing.risk.models.DistrictPolicy` row of the district, or the defaults when the
district never changed its policy. Changing it (``save_policy``) writes a new version, audited.

Body format (JSON; the admin page edits it as YAML or JSON)::

    tiers:            exactly four entries, levels 0..3:
      - level: 3
        code: red
        name: {zh: 危机, en: "Red: crisis"}
        colour: "#c62828"
        first_response_hours: 1        # null for none
        followup_days: 1               # null for none
        escalation:                    # the ladder when not acknowledged / overdue
          - {role: school_leader, after_minutes: 60}
          - {role: counsellor, after_minutes: 120}
    district_tiers: [2, 3]             # tiers that involve the district (counsellors see them)
    special_care:                      # the special-care categories of the district
      - {code: left_behind, zh: 留守儿童, en: Left-behind child}
    screening_rules:                   # optional: instrument code -> tier_rules list that
      phq9: [...]                      # replaces the instrument's own tier_rules
    break_glass:                       # optional: who may use break-glass access
      supervisors: false               # supervisors (auditors) too? off by default (DESIGN §1)
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

import jsonschema
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..orgs.models import School
from .models import DistrictPolicy

TIER_LEVELS = (0, 1, 2, 3)
ESCALATION_ROLES = ("psych_teacher", "school_leader", "counsellor")

DEFAULT_BODY: dict[str, Any] = {
    "tiers": [
        {
            "level": 0,
            "code": "green",
            "name": {"zh": "无风险", "en": "Green: no risk"},
            "colour": "#2e7d32",
            "first_response_hours": None,
            "followup_days": None,
            "escalation": [],
        },
        {
            "level": 1,
            "code": "yellow",
            "name": {"zh": "一般关注", "en": "Yellow: general concern"},
            "colour": "#f9a825",
            "first_response_hours": 168,
            "followup_days": 30,
            "escalation": [{"role": "school_leader", "after_minutes": 7 * 24 * 60}],
        },
        {
            "level": 2,
            "code": "orange",
            "name": {"zh": "重点关注", "en": "Orange: key concern"},
            "colour": "#ef6c00",
            "first_response_hours": 72,
            "followup_days": 7,
            "escalation": [
                {"role": "school_leader", "after_minutes": 24 * 60},
                {"role": "counsellor", "after_minutes": 72 * 60},
            ],
        },
        {
            "level": 3,
            "code": "red",
            "name": {"zh": "危机", "en": "Red: crisis"},
            "colour": "#c62828",
            "first_response_hours": 1,
            "followup_days": 1,
            "escalation": [
                {"role": "school_leader", "after_minutes": 60},
                {"role": "counsellor", "after_minutes": 120},
            ],
        },
    ],
    "district_tiers": [2, 3],
    "special_care": [
        {"code": "distress", "zh": "困境儿童", "en": "Child in difficult circumstances"},
        {"code": "left_behind", "zh": "留守儿童", "en": "Left-behind child"},
        {"code": "disability", "zh": "残疾", "en": "Disability"},
        {"code": "bereavement", "zh": "丧亲", "en": "Bereavement"},
        {"code": "single_parent", "zh": "单亲/重组家庭", "en": "Single-parent or blended family"},
        {"code": "learning", "zh": "学业困难", "en": "Learning difficulties"},
    ],
    "screening_rules": {},
    "break_glass": {"supervisors": False},
}

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


class PolicyError(ValueError):
    """An invalid policy body; ``problems`` lists :class:`Problem` s (shown translated, naming
    the setting, by the editor); ``errors`` the same as ``(path, code)`` pairs."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.errors = [(p.path, p.code) for p in problems]
        super().__init__("; ".join(f"{p.path}: {p.code} {dict(p.params)}" for p in problems))


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _problems(error: jsonschema.ValidationError) -> list[Problem]:
    """A schema error as problems with codes and parameters (never jsonschema's English)."""
    parts = tuple(error.absolute_path)
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind == "required":
        missing = [k for k in value if isinstance(instance, dict) and k not in instance]
        return [Problem((*parts, k), "missing", {}) for k in missing]
    if kind == "additionalProperties":
        known = set(error.schema.get("properties", {}))
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


# --------------------------------------------------------------------------- the frozen view


class EscalationStep(NamedTuple):
    """One rung of a ladder: after ``after_minutes`` without acknowledgement, ``role``."""

    role: str
    after_minutes: int


@dataclass(frozen=True)
class TierSpec:
    level: int
    code: str
    name_zh: str
    name_en: str
    colour: str
    first_response_hours: int | None
    followup_days: int | None
    escalation: tuple[EscalationStep, ...]
    involves_district: bool

    def name(self, locale: str | None = None) -> str:
        return self.name_zh if (locale or "zh").lower().startswith("zh") else self.name_en


@dataclass(frozen=True)
class SpecialCareCategory:
    code: str
    zh: str
    en: str

    def label(self, locale: str | None = None) -> str:
        return self.zh if (locale or "zh").lower().startswith("zh") else self.en


@dataclass(frozen=True)
class Policy:
    """A district's policy as the app reads it (version 0 = the built-in defaults)."""

    district_id: uuid.UUID | None
    version: int
    tiers: tuple[TierSpec, ...]  # indexed by level
    special_care_categories: tuple[SpecialCareCategory, ...]
    screening_rules: Mapping[str, tuple[Mapping[str, Any], ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    created_at: dt.datetime | None = None
    # May supervisors (auditors, who otherwise read no case content) break the glass?
    supervisor_break_glass: bool = False

    # -- per-tier lookups, keyed by level 0..3
    def tier(self, level: int) -> TierSpec:
        return self.tiers[level]

    @property
    def first_response_hours(self) -> Mapping[int, int | None]:
        return MappingProxyType({t.level: t.first_response_hours for t in self.tiers})

    @property
    def followup_days(self) -> Mapping[int, int | None]:
        return MappingProxyType({t.level: t.followup_days for t in self.tiers})

    followup_cadence_days = followup_days

    @property
    def escalation(self) -> Mapping[int, tuple[EscalationStep, ...]]:
        return MappingProxyType({t.level: t.escalation for t in self.tiers})

    escalation_ladder = escalation

    @property
    def district_tiers(self) -> frozenset[int]:
        return frozenset(t.level for t in self.tiers if t.involves_district)

    def involves_district(self, level: int) -> bool:
        return self.tiers[level].involves_district

    def first_response_delta(self, level: int) -> dt.timedelta | None:
        hours = self.tiers[level].first_response_hours
        return None if hours is None else dt.timedelta(hours=hours)

    def followup_delta(self, level: int) -> dt.timedelta | None:
        days = self.tiers[level].followup_days
        return None if days is None else dt.timedelta(days=days)

    def tier_name(self, level: int, locale: str | None = None) -> str:
        return self.tiers[level].name(locale)

    def tier_colour(self, level: int) -> str:
        return self.tiers[level].colour

    @property
    def special_care_codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.special_care_categories)

    def category(self, code: str) -> SpecialCareCategory | None:
        return next((c for c in self.special_care_categories if c.code == code), None)

    def category_label(self, code: str, locale: str | None = None) -> str:
        found = self.category(code)
        return found.label(locale) if found else code


def build_policy(
    body: Mapping[str, Any],
    *,
    district_id: uuid.UUID | None = None,
    version: int = 0,
    created_at: dt.datetime | None = None,
) -> Policy:
    district_tiers = set(body.get("district_tiers", ()))
    tiers = sorted(body["tiers"], key=lambda t: t["level"])
    return Policy(
        district_id=district_id,
        version=version,
        tiers=tuple(
            TierSpec(
                level=t["level"],
                code=t["code"],
                name_zh=t["name"]["zh"],
                name_en=t["name"]["en"],
                colour=t["colour"],
                first_response_hours=t["first_response_hours"],
                followup_days=t["followup_days"],
                escalation=tuple(
                    EscalationStep(s["role"], s["after_minutes"]) for s in t["escalation"]
                ),
                involves_district=t["level"] in district_tiers,
            )
            for t in tiers
        ),
        special_care_categories=tuple(
            SpecialCareCategory(c["code"], c["zh"], c["en"]) for c in body["special_care"]
        ),
        screening_rules=MappingProxyType(
            {
                k: tuple(MappingProxyType(dict(r)) for r in v)
                for k, v in (body.get("screening_rules") or {}).items()
            }
        ),
        created_at=created_at,
        supervisor_break_glass=bool((body.get("break_glass") or {}).get("supervisors", False)),
    )


def default_body() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_BODY)


DEFAULT_POLICY = build_policy(validate_body(default_body()))

_CACHE_KEY = "wellbeing.risk.policy"


def _cache(session: Session) -> dict[Any, Policy]:
    return session.info.setdefault(_CACHE_KEY, {})


def current_policy(session: Session, district_id: uuid.UUID | None) -> Policy:
    """The district's newest policy (cached on the session, i.e. per request / unit of work)."""
    cache = _cache(session)
    if district_id in cache:
        return cache[district_id]

    row = None
    if district_id is not None:
        row = session.scalar(
            select(DistrictPolicy)
            .where(DistrictPolicy.district_id == district_id)
            .order_by(DistrictPolicy.version.desc())
            .limit(1)
        )
    if row is None:
        policy = build_policy(DEFAULT_BODY, district_id=district_id, version=0)
    else:
        policy = build_policy(
            row.body, district_id=district_id, version=row.version, created_at=row.created_at
        )
    cache[district_id] = policy
    return policy


def forget_policy(session: Session, district_id: uuid.UUID | None = None) -> None:
    """Drop the cached policy (after a change)."""
    cache = _cache(session)
    if district_id is None:
        cache.clear()
    else:
        cache.pop(district_id, None)


def district_of_school(session: Session, school_id: uuid.UUID) -> uuid.UUID | None:
    """The district of a school (cached on the session)."""
    cache: dict[uuid.UUID, uuid.UUID | None] = session.info.setdefault(
        "wellbeing.risk.school_district", {}
    )
    if school_id not in cache:
        cache[school_id] = session.scalar(select(School.district_id).where(School.id == school_id))
    return cache[school_id]


def policy_for_student(session: Session, student: Any) -> Policy:
    return current_policy(session, district_of_school(session, student.school_id))


__all__ = [
    "DEFAULT_POLICY",
    "EscalationStep",
    "Policy",
    "PolicyError",
    "Problem",
    "SpecialCareCategory",
    "TierSpec",
    "current_policy",
    "policy_for_student",
    "validate_body",
]
