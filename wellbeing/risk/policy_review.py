"""The admin's policy editor in two steps: preview, then confirm.

Preview parses the text, validates it and lists what would change, setting by setting, with
labels (or lists the problems, translated, naming the setting). Confirm saves exactly the text
that was previewed: the preview hands out a digest (an HMAC under the app's secret key of the
district, the version the preview was compared with, and the text); a confirm whose text or base
version does not match is refused and nothing is saved.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from babel.lists import format_list
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.models import Membership, User
from ..core.authz import Permission, Principal, Role, ensure
from ..core.errors import DomainError
from ..labels import ROLE_LABELS
from ..ui import TIER_NAMES
from .models import DistrictPolicy
from .policy import (
    Policy,
    PolicyError,
    Problem,
    build_policy,
    current_policy,
    validate_body,
)
from .policy_schema import ESCALATION_ROLES
from .services import save_policy

# --------------------------------------------------------------------------- labels

SETTING_LABELS: dict[str, Any] = {
    "tiers": _l("Tiers"),
    "level": _l("Level"),
    "code": _l("Code"),
    "name": _l("Name"),
    "colour": _l("Colour"),
    "first_response_hours": _l("First response (hours)"),
    "followup_days": _l("Follow-up interval (days)"),
    "escalation": _l("Escalation"),
    "role": _l("Role"),
    "after_minutes": _l("After (minutes)"),
    "district_tiers": _l("Tiers that involve the district"),
    "special_care": _l("Special-care categories"),
    "zh": _l("Chinese name"),
    "en": _l("English name"),
    "screening_rules": _l("Screening rules"),
    "tier": _l("Tier"),
    "provisional": _l("Provisional"),
    "break_glass": _l("Break-glass access"),
    "supervisors": _l("Supervisors may use break-glass access"),
    "plan_review_days": _l("Plan review interval (days)"),
    "records": _l("Growth record periods"),
    "transfer_read_days": _l("Days the sending school still reads what it wrote after a transfer"),
    "retention_years": _l("Years a sealed record is kept after the student leaves"),
    "consent_valid_days": _l("Days a guardian's consent counts for a referral"),
}
TYPE_LABELS: dict[str, Any] = {
    "integer": _l("a whole number"),
    "null": _l("empty"),
    "string": _l("text"),
    "boolean": _l("true or false"),
    "array": _l("a list"),
    "object": _l("a group of settings"),
}
MESSAGES: dict[str, Any] = {
    "yaml": _l("The text is not valid YAML or JSON (line %(line)s, column %(column)s)."),
    "not_mapping": _l("The policy must be a group of named settings, not a list or one value."),
    "missing": _l("%(setting)s is missing."),
    "unknown": _l("%(setting)s is not a setting of the tier policy: check the spelling."),
    "type": _l("%(setting)s must be %(expected)s."),
    "minimum": _l("%(setting)s must be at least %(limit)s."),
    "maximum": _l("%(setting)s must be at most %(limit)s."),
    "minItems": _l("%(setting)s needs more entries (at least %(limit)s)."),
    "maxItems": _l("%(setting)s has too many entries (at most %(limit)s)."),
    "minLength": _l("%(setting)s must not be empty."),
    "maxLength": _l("%(setting)s may be at most %(limit)s characters long."),
    "enum": _l("%(setting)s must be one of: %(allowed)s."),
    "colour": _l("%(setting)s must be a colour written like #c62828."),
    "code_format": _l(
        "%(setting)s must be a code of lower-case letters, digits and _ that starts with a letter."
    ),
    "unique": _l("%(setting)s lists the same value twice."),
    "tiers_count": _l("The policy needs exactly four tiers (levels 0 to 3)."),
    "levels": _l("%(setting)s must have the levels 0, 1, 2 and 3, each once."),
    "ladder_order": _l("%(setting)s: each rung must come later than the one before it."),
    "duplicate_code": _l("%(setting)s: the code %(code)s is used twice."),
    "invalid": _l("%(setting)s has a value that is not allowed."),
}


def _is_zh(locale: str) -> bool:
    return locale.lower().startswith("zh")


def setting_label(parts: Sequence[str | int], body: Any, locale: str) -> str:
    """The setting a path names, in words: ``tiers[2].escalation[0].after_minutes`` becomes
    "Orange: key concern › Escalation › rung 1 › After (minutes)"."""
    words: list[str] = []
    node: Any = body
    parent: str | int | None = None
    for part in parts:
        child = None
        if isinstance(node, Mapping):
            child = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            child = node[part]
        if isinstance(part, int):
            if parent in {"tiers", "special_care"} and words:
                words.pop()  # "Orange: key concern" says more than "Tiers › Orange: …"
            words.append(_item_label(parent, part, child, locale))
        elif parent == "screening_rules":
            words.append(_("instrument %(code)s", code=part))
        else:
            words.append(str(SETTING_LABELS.get(part, part)))
        node, parent = child, part
    return " › ".join(words) or _("The policy")


def _item_label(parent: str | int | None, index: int, item: Any, locale: str) -> str:
    if parent == "tiers":
        level = item.get("level") if isinstance(item, Mapping) else None
        if isinstance(level, int) and level in TIER_NAMES:
            return str(TIER_NAMES[level])
        return _("tier %(num)d", num=index + 1)
    if parent == "escalation":
        return _("rung %(num)d", num=index + 1)
    if parent == "special_care" and isinstance(item, Mapping):
        label = item.get("zh" if _is_zh(locale) else "en")
        if isinstance(label, str) and label:
            return label
        return _("category %(num)d", num=index + 1)
    return _("entry %(num)d", num=index + 1)


def problem_message(problem: Problem, body: Any, locale: str) -> str:
    """The problem as a translated sentence that names the setting in words."""
    params: dict[str, Any] = {"setting": setting_label(problem.parts, body, locale)}
    for key, value in problem.params.items():
        if key == "expected":
            value = format_list([str(TYPE_LABELS.get(t, t)) for t in value], "or", locale)
        elif key == "allowed":
            value = format_list([f"{ROLE_LABELS.get(v, v)} ({v})" for v in value], "or", locale)
        params[key] = value
    return str(MESSAGES.get(problem.code, MESSAGES["invalid"])) % params


@dataclass(frozen=True)
class ShownProblem:
    setting: str  # the setting in words (empty for the whole text)
    message: str  # a translated sentence naming the setting
    where: str  # where to look in the text: a path such as tiers[2].role, or line/column


# --------------------------------------------------------------------------- human-readable values


def duration(minutes: int) -> str:
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return ngettext("%(num)d day", "%(num)d days", days)
    if minutes % 60 == 0:
        return ngettext("%(num)d hour", "%(num)d hours", minutes // 60)
    return ngettext("%(num)d minute", "%(num)d minutes", minutes)


def ladder_text(steps: Sequence[Any]) -> str:
    if not steps:
        return _("no escalation")
    return _("; ").join(
        _("%(role)s after %(time)s", role=ROLE_LABELS.get(s[0], s[0]), time=duration(s[1]))
        for s in steps
    )


def first_response_text(hours: int | None) -> str:
    return _("none") if hours is None else duration(hours * 60)


def followup_text(days: int | None) -> str:
    return _("none") if days is None else _("every %(time)s", time=duration(days * 24 * 60))


def yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


def allowed_text(value: bool) -> str:
    return _("allowed") if value else _("not allowed")


def category_list(policy: Policy, locale: str) -> str:
    return format_list([c.label(locale) for c in policy.special_care_categories], locale=locale)


# --------------------------------------------------------------------------- the diff


@dataclass(frozen=True)
class Change:
    setting: str
    before: str
    after: str


def changes(old: Policy, new: Policy, locale: str) -> list[Change]:
    """What the new policy changes, setting by setting, in words."""
    out: list[Change] = []

    def add(setting: str, before: str, after: str) -> None:
        if before != after:
            out.append(Change(setting, before, after))

    for a, b in zip(old.tiers, new.tiers, strict=True):
        tier = str(TIER_NAMES[a.level])
        add(_("%(tier)s › Chinese name", tier=tier), a.name_zh, b.name_zh)
        add(_("%(tier)s › English name", tier=tier), a.name_en, b.name_en)
        add(_("%(tier)s › Colour", tier=tier), a.colour, b.colour)
        add(
            _("%(tier)s › First response within", tier=tier),
            first_response_text(a.first_response_hours),
            first_response_text(b.first_response_hours),
        )
        add(
            _("%(tier)s › Follow-up", tier=tier),
            followup_text(a.followup_days),
            followup_text(b.followup_days),
        )
        add(
            _("%(tier)s › Escalation", tier=tier),
            ladder_text(a.escalation),
            ladder_text(b.escalation),
        )
        add(
            _("%(tier)s › District involved", tier=tier),
            yes_no(a.involves_district),
            yes_no(b.involves_district),
        )
        add(
            _("%(tier)s › Plan review", tier=tier),
            followup_text(a.plan_review_days),
            followup_text(b.plan_review_days),
        )
    before = {c.code: c for c in old.special_care_categories}
    after = {c.code: c for c in new.special_care_categories}
    category = _("Special-care category")
    for code in [*before, *(c for c in after if c not in before)]:
        x, y = before.get(code), after.get(code)
        add(
            _("%(setting)s %(code)s", setting=category, code=code),
            x.label(locale) if x else _("(none)"),
            y.label(locale) if y else _("(removed)"),
        )
    for instrument in sorted(set(old.screening_rules) | set(new.screening_rules)):
        add(
            _("Screening rules of %(code)s", code=instrument),
            _rules_text(old.screening_rules.get(instrument)),
            _rules_text(new.screening_rules.get(instrument)),
        )
    add(
        str(SETTING_LABELS["supervisors"]),
        allowed_text(old.supervisor_break_glass),
        allowed_text(new.supervisor_break_glass),
    )
    for name in ("transfer_read_days", "retention_years", "consent_valid_days"):
        add(
            str(SETTING_LABELS[name]),
            str(getattr(old.records, name)),
            str(getattr(new.records, name)),
        )
    return out


def _rules_text(rules: Sequence[Mapping[str, Any]] | None) -> str:
    if rules is None:
        return _("the instrument's own rules")
    return "; ".join(
        _("%(code)s → %(tier)s", code=r["code"], tier=TIER_NAMES.get(r["tier"], r["tier"]))
        for r in rules
    )


# --------------------------------------------------------------------------- preview / confirm


class StalePreview(DomainError):
    """The confirmed text or base version is not what was previewed."""

    code = "stale_preview"
    status = 409


@dataclass
class Preview:
    text: str
    base_version: int
    digest: str = ""
    problems: list[ShownProblem] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def normalise(text: str) -> str:
    """Browsers send a textarea's line breaks as CRLF: the digest covers the text with LF."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


def digest(secret: str, district_id: uuid.UUID, base_version: int, text: str) -> str:
    message = f"policy-preview\n{district_id}\n{base_version}\n{normalise(text)}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def latest_version(session: Session, district_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.max(DistrictPolicy.version)).where(
                DistrictPolicy.district_id == district_id
            )
        )
        or 0
    )


def _parse(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise PolicyError([Problem((), "yaml", {"line": line, "column": column})]) from exc


def preview_policy(
    session: Session,
    principal: Principal,
    district_id: uuid.UUID,
    text: str,
    *,
    secret: str,
    locale: str,
) -> Preview:
    """Validate ``text`` and describe what saving it would change (nothing is written)."""
    ensure(principal, Permission.POLICY_MANAGE)
    text = normalise(text)
    base = latest_version(session, district_id)
    preview = Preview(text=text, base_version=base)
    body: Any = None
    try:
        body = _parse(text)
        validate_body(body)
    except PolicyError as exc:
        preview.problems = [
            ShownProblem(
                setting_label(p.parts, body, locale) if p.parts else "",
                problem_message(p, body, locale),
                _("line %(line)s", line=p.params["line"]) if p.code == "yaml" else p.path,
            )
            for p in exc.problems
        ]
        return preview
    new = build_policy(body)
    preview.changes = changes(current_policy(session, district_id), new, locale)
    preview.warnings = _warnings(session, new)
    preview.digest = digest(secret, district_id, base, text)
    return preview


def _warnings(session: Session, new: Policy) -> list[str]:
    if not new.supervisor_break_glass:
        return []

    supervisors = (
        session.scalar(
            select(func.count(func.distinct(User.id)))
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.role == Role.SUPERVISOR, User.active.is_(True))
        )
        or 0
    )
    if supervisors >= 2:
        return []
    return [
        ngettext(
            "Only %(num)d supervisor is active: a supervisor's own break-glass access would have "
            "nobody to review it (it is then listed on the audit integrity panel).",
            "Only %(num)d supervisors are active: a supervisor's own break-glass access would "
            "have nobody to review it (it is then listed on the audit integrity panel).",
            supervisors,
        )
    ]


def confirm_policy(
    session: Session,
    principal: Principal,
    district_id: uuid.UUID,
    text: str,
    given_digest: str,
    *,
    secret: str,
) -> DistrictPolicy:
    """Save ``text`` as the next version if it is exactly what was previewed against the
    current version; otherwise raise :class:`StalePreview` (nothing saved)."""
    ensure(principal, Permission.POLICY_MANAGE)
    text = normalise(text)
    expected = digest(secret, district_id, latest_version(session, district_id), text)
    if not hmac.compare_digest(expected, given_digest or ""):
        raise StalePreview(
            _l("Nothing was saved: the text or the current version changed after the preview. "
               "Check the new preview below and confirm again.")
        )  # fmt: skip
    return save_policy(session, principal, district_id, _parse(text))


__all__ = [
    "ESCALATION_ROLES",
    "ROLE_LABELS",
    "Preview",
    "StalePreview",
    "confirm_policy",
    "digest",
    "preview_policy",
]
