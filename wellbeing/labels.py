"""Human labels for the codes the system stores: roles, tier sources and reasons, instruments.

No code is ever shown to a person (``psych_teacher``, ``concern_soon``, ``phq9_item9_red``):
templates use the Jinja globals ``role_label``, ``tier_source_label``, ``tier_reason_label`` and
``instrument_label`` (registered in :mod:`wellbeing.ui`), and Python code calls the same
functions. tests/test_labels.py checks that every value of every code has a label in zh_CN and
in en.

Screening rules carry their labels in the instrument YAML (``label: {zh_CN: .., en: ..}``);
the other codes are labelled here.
"""

from __future__ import annotations

import functools
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from .core.authz import Role

ROLE_LABELS = {
    Role.PSYCH_TEACHER: _l("Psychology teacher"),
    Role.CLASS_TEACHER: _l("Class teacher"),
    Role.SCHOOL_LEADER: _l("School leader"),
    Role.COUNSELLOR: _l("District counsellor"),
    Role.PARTNER: _l("Health partner liaison"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.ADMIN: _l("Administrator"),
}

# TierDecision.source: where a tier decision came from.
TIER_SOURCES = {
    "screening": _l("Screening"),
    "concern": _l("Concern report"),
    "session": _l("Counselling session"),
    "referral": _l("Referral"),
    "manual": _l("Decided by a person"),
}

# Reason tokens of rule decisions that do not come from an instrument (concern urgencies:
# wellbeing.concerns.models.URGENCIES, recorded as ``concern_<urgency>``).
RULE_REASONS = {
    "concern_routine": _l("Concern report: routine"),
    "concern_soon": _l("Concern report: to be seen within days"),
    "concern_immediate_danger": _l("Concern report: immediate danger"),
}


def _locale() -> str:
    locale = get_locale()
    return str(locale) if locale is not None else "zh_CN"


def role_label(role: Any) -> str:
    """``"psych_teacher"`` → 心理教师 / Psychology teacher (an unknown code: a generic label)."""
    try:
        return str(ROLE_LABELS[Role(str(role))])
    except (ValueError, KeyError):
        return str(_l("Other role"))


def tier_source_label(source: str | None) -> str:
    return str(TIER_SOURCES.get(source or "", _l("Other source")))


@functools.lru_cache(maxsize=8)
def _instrument_rule_labels(locale: str) -> dict[str, str]:
    """Rule code → label of the shipped instruments (files read once per process)."""
    # labels stays below screening (lower modules import it): the instruments load on first use
    from .screening.engine.instruments import CriticalRule, TierRule, builtin_instruments

    labels: dict[str, str] = {}
    for instrument in builtin_instruments().values():
        rules: tuple[TierRule | CriticalRule, ...] = (
            *instrument.tier_rules,
            *instrument.critical_rules,
        )
        for rule in rules:
            if rule.label is not None:
                labels[rule.code] = rule.label.get(locale)
    return labels


def tier_reason_label(decision: Any) -> str:
    """The reason of a tier decision as a person reads it.

    A person's reason is their own text, shown as written. A rule's reason is a token (a
    screening rule code such as ``phq9_item9_red``, or ``concern_soon``): its label from the
    instrument YAML or :data:`RULE_REASONS`; a token without a label shows the source's label.
    """
    reason = decision.reason
    token = (reason or "").strip()
    source = getattr(decision, "source", None)
    if token and token == source:  # a module's own act, recorded without a written reason
        return tier_source_label(source)
    if getattr(decision, "decided_by", None) is not None:
        return reason or ""
    if token in RULE_REASONS:
        return str(RULE_REASONS[token])
    label = _instrument_rule_labels(_locale()).get(token)
    if label:
        return label
    return tier_source_label(source)


def instrument_label(code: str) -> str:
    """``"phq9"`` → its name in the user's language (an unknown code is shown as it is)."""
    from .screening.engine.instruments import builtin_instruments  # labels stays below screening

    instrument = builtin_instruments().get(code)
    return instrument.name.get(_locale()) if instrument is not None else code


__all__ = [
    "ROLE_LABELS",
    "RULE_REASONS",
    "TIER_SOURCES",
    "instrument_label",
    "role_label",
    "tier_reason_label",
    "tier_source_label",
]
