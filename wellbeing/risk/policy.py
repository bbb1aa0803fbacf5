"""The district tier policy: defaults (DESIGN.md §3), versions (validation: :mod:`.policy_schema`).

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
        plan_review_days: 7            # optional; the plan's next review (default 90/30/7)
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
    records:                           # optional: the growth record's periods
      transfer_read_days: 30           # the sending school reads what it wrote, after a transfer
      retention_years: 10              # a sealed record is purged this long after leaving
      consent_valid_days: 365          # a guardian's consent counts for a referral this long
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..orgs.models import School
from ..students.retention import RetentionRule, set_retention_source
from .models import DistrictPolicy
from .policy_schema import (
    PolicyError,
    Problem,
    validate_body,
)

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
    # Days from a plan version to its next review (None: no plan expected at this tier).
    plan_review_days: int | None = None

    def name(self, locale: str | None = None) -> str:
        return self.name_zh if (locale or "zh").lower().startswith("zh") else self.name_en


@dataclass(frozen=True)
class SpecialCareCategory:
    code: str
    zh: str
    en: str

    def label(self, locale: str | None = None) -> str:
        return self.zh if (locale or "zh").lower().startswith("zh") else self.en


# The plan's default review interval by level (issue 14: red 7 days, orange 30, yellow 90).
DEFAULT_PLAN_REVIEW_DAYS = {0: None, 1: 90, 2: 30, 3: 7}


@dataclass(frozen=True)
class RecordPeriods:
    """The growth record's periods (the policy's optional ``records`` group)."""

    transfer_read_days: int = 30
    retention_years: int = 10
    consent_valid_days: int = 365


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
    records: RecordPeriods = field(default_factory=lambda: RecordPeriods())

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

    def plan_review_delta(self, level: int) -> dt.timedelta | None:
        """How long a plan version for a student at ``level`` runs before its review."""
        days = self.tiers[level].plan_review_days
        return None if days is None else dt.timedelta(days=days)

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
                plan_review_days=t.get(
                    "plan_review_days", DEFAULT_PLAN_REVIEW_DAYS.get(t["level"])
                ),
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
        records=RecordPeriods(**(body.get("records") or {})),
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


def retention_for_student(session: Session, student: Any) -> RetentionRule:
    """The district's ``records.retention_years`` for the retention purge (``students`` is
    below ``risk``: it reads the period through :func:`set_retention_source`), with the policy
    version and who saved it (for the purge's tombstone)."""
    policy = policy_for_student(session, student)
    set_by = None
    if policy.version:
        set_by = session.scalar(
            select(DistrictPolicy.created_by).where(
                DistrictPolicy.district_id == policy.district_id,
                DistrictPolicy.version == policy.version,
            )
        )
    return RetentionRule(policy.records.retention_years, policy.version, set_by)


set_retention_source(retention_for_student)


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
