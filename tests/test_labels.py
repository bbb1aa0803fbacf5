"""Every code has a human label in zh_CN and en, and grades and classes are written as Chinese
schools write them (四年级, 七年级(3)班, 高一(1)班)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask_babel import force_locale

from wellbeing.alerts.models import KINDS as ALERT_KINDS
from wellbeing.alerts.models import STATES as ALERT_STATES
from wellbeing.alerts.models import STEP_KINDS
from wellbeing.concerns.models import URGENCIES
from wellbeing.core.authz import Role
from wellbeing.labels import (
    ROLE_LABELS,
    RULE_REASONS,
    TIER_SOURCES,
    instrument_label,
    role_label,
    tier_reason_label,
    tier_source_label,
)
from wellbeing.orgs.labels import class_label, grade_label
from wellbeing.risk.models import TIER_SOURCES as STORED_TIER_SOURCES
from wellbeing.screening.engine.instruments import builtin_instruments

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")


def _both(app, text_of) -> dict[str, str]:  # type: ignore[no-untyped-def]
    out = {}
    with app.test_request_context():
        for locale in ("zh_CN", "en"):
            with force_locale(locale):
                out[locale] = str(text_of())
    return out


def _assert_labelled(app, code: str, text_of) -> None:  # type: ignore[no-untyped-def]
    texts = _both(app, text_of)
    assert CJK.search(texts["zh_CN"]), f"{code!r} has no Chinese label: {texts['zh_CN']!r}"
    assert texts["en"] and not CJK.search(texts["en"]), f"{code!r}: English label {texts['en']!r}"
    assert code not in (texts["zh_CN"], texts["en"]), f"{code!r} is shown as its code"


@pytest.mark.parametrize("role", list(Role))
def test_every_role_has_a_label(app, role):
    assert set(ROLE_LABELS) == set(Role)
    _assert_labelled(app, str(role), lambda: role_label(str(role)))


@pytest.mark.parametrize("source", STORED_TIER_SOURCES)
def test_every_tier_source_has_a_label(app, source):
    assert source in TIER_SOURCES
    _assert_labelled(app, source, lambda: tier_source_label(source))


def _rule_codes() -> list[tuple[str, str, object]]:
    codes = []
    for instrument in builtin_instruments().values():
        for rule in (*instrument.tier_rules, *instrument.critical_rules):
            codes.append((instrument.code, rule.code, rule.label))
    return codes


@pytest.mark.parametrize(("instrument", "code", "label"), _rule_codes())
def test_every_screening_rule_has_a_label_in_its_yaml(instrument, code, label):
    assert label is not None, f"{instrument}: rule {code} has no label in its YAML"
    assert CJK.search(label.zh_CN) and label.en and not CJK.search(label.en)


class _Decision:
    def __init__(self, reason: str, source: str, decided_by: object = None) -> None:
        self.reason, self.source, self.decided_by = reason, source, decided_by


@pytest.mark.parametrize(
    ("token", "source"),
    [(f"concern_{u}", "concern") for u in URGENCIES]
    + [(code, "screening") for _i, code, _l in _rule_codes()]
    + [("phq9.total>=15", "screening"), ("concern", "concern")],
)
def test_every_tier_reason_code_has_a_label(app, token, source):
    """Rule reasons are tokens; none is shown as it is stored (unknown ones: the source)."""
    assert {f"concern_{u}" for u in URGENCIES} <= set(RULE_REASONS)
    _assert_labelled(app, token, lambda: tier_reason_label(_Decision(token, source)))


def test_a_persons_reason_is_shown_as_written(app):
    with app.test_request_context():
        assert (
            tier_reason_label(_Decision("谈话后情绪稳定", "manual", "someone")) == "谈话后情绪稳定"
        )


@pytest.mark.parametrize("code", sorted(builtin_instruments()))
def test_every_instrument_has_a_label(app, code):
    _assert_labelled(app, code, lambda: instrument_label(code))


def test_every_alert_kind_state_and_step_has_a_label(app):
    from wellbeing.alerts import views

    assert set(views.KIND_LABELS) == set(ALERT_KINDS)
    assert set(views.STATE_LABELS) == set(ALERT_STATES)
    assert set(views.STEP_LABELS) == set(STEP_KINDS)
    labels = {**views.KIND_LABELS, **views.STATE_LABELS, **views.STEP_LABELS}
    for code, label in labels.items():
        _assert_labelled(app, code, lambda label=label: label)


def test_templates_show_roles_through_role_label():
    """A template that prints ``.role`` (or ``actor_role``) shows a code: use role_label().
    (``<code>{{ e.actor_role }}</code>``, the audit console's fallback for a code it does not
    know, is marked as a code and allowed.)"""
    raw = re.compile(
        r"(?<!<code>)\{\{\s*[\w.]*\b(role|actor_role|next_role)\b\s*(or\s*\"\"\s*)?\}\}"
    )
    found = [
        f"{path.relative_to(ROOT)}: {match[0]}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for match in raw.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


# --------------------------------------------------------------------------- grades and classes

GRADES = [
    (4, "四年级", "Grade 4"), (5, "五年级", "Grade 5"), (6, "六年级", "Grade 6"),
    (7, "七年级", "Grade 7"), (8, "八年级", "Grade 8"), (9, "九年级", "Grade 9"),
    (10, "高一", "Grade 10"), (11, "高二", "Grade 11"), (12, "高三", "Grade 12"),
]  # fmt: skip
CLASSES = [
    (4, "2班", "四年级(2)班", "Grade 4, class 2"),
    (6, "1", "六年级(1)班", "Grade 6, class 1"),
    (7, "3班", "七年级(3)班", "Grade 7, class 3"),
    (8, "（3）班", "八年级(3)班", "Grade 8, class 3"),
    (9, "１２班", "九年级(12)班", "Grade 9, class 12"),
    (10, "1班", "高一(1)班", "Grade 10, class 1"),
    (11, "05班", "高二(5)班", "Grade 11, class 5"),
    (12, "(2)班", "高三(2)班", "Grade 12, class 2"),
    (7, "实验班", "七年级实验班", "Grade 7, 实验班"),
    (10, None, "高一", "Grade 10"),
]


@pytest.mark.parametrize(("grade", "zh", "en"), GRADES)
def test_grade_label(app, grade, zh, en):
    with app.test_request_context():
        assert grade_label(grade, "zh_CN") == zh
        assert grade_label(grade, "en") == en


@pytest.mark.parametrize(("grade", "label", "zh", "en"), CLASSES)
def test_class_label(app, grade, label, zh, en):
    with app.test_request_context():
        assert class_label(grade, label, "zh_CN") == zh
        assert class_label(grade, label, "en") == en
        with force_locale("zh_CN"):  # the request's language when none is given
            assert class_label(grade, label) == zh


def _label_sets() -> list[tuple[str, tuple, object]]:
    from wellbeing.concerns import forms as concern_forms
    from wellbeing.concerns import models as concern_models
    from wellbeing.crisis import forms as crisis_forms
    from wellbeing.crisis import models as crisis_models

    return [
        ("concern category", concern_models.CATEGORIES, dict(concern_forms.CATEGORY_LABELS)),
        ("concern urgency", concern_models.URGENCIES, dict(concern_forms.URGENCY_LABELS)),
        ("concern status", concern_models.STATES, concern_forms.STATE_LABELS),
        ("caller", concern_models.CALLER_TYPES, dict(concern_forms.CALLER_LABELS)),
        ("hotline topic", concern_models.HOTLINE_TOPICS, dict(concern_forms.TOPIC_LABELS)),
        ("crisis step", crisis_models.STEPS, crisis_forms.STEP_LABELS),
        ("guardian relation", crisis_models.RELATIONS, dict(crisis_forms.RELATION_LABELS)),
        ("contact channel", crisis_models.CHANNELS, dict(crisis_forms.CHANNEL_LABELS)),
        ("referral outcome", crisis_models.REFERRAL_OUTCOMES, dict(crisis_forms.OUTCOME_LABELS)),
        (
            "consent purpose",
            crisis_models.CONSENT_PURPOSES,
            dict(crisis_forms.CONSENT_PURPOSE_LABELS),
        ),
        ("consent", tuple(crisis_models.ConsentDecision), dict(crisis_forms.CONSENT_LABELS)),
    ]


@pytest.mark.parametrize(("what", "codes", "labels"), _label_sets(), ids=lambda v: str(v)[:20])
def test_every_stored_code_of_concerns_and_crises_has_a_label(app, what, codes, labels):
    assert set(codes) <= set(labels), f"{what}: no label for {set(codes) - set(labels)}"
    for code in codes:
        _assert_labelled(app, code, lambda code=code: labels[code])
