"""Screening refusals are DomainErrors (lazy msgids, named parameters, instrument names for
people, English for the CLI, the API and stored reasons); the review page's confirmation is
worded by the module that registered itself (crisis), without screening importing it."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from wellbeing.core.errors import DomainError
from wellbeing.screening import review
from wellbeing.screening.errors import IntakeError, ScreeningError
from wellbeing.screening.intake.messages import translate_message

PHQ_NAME_ZH = "患者健康问卷抑郁量表（PHQ-9）"


def test_an_intake_refusal_is_a_domain_error_in_both_languages(app) -> None:  # type: ignore[no-untyped-def]
    error = IntakeError(_l("instrument %(instrument)s is not installed"), instrument="phq9")
    assert isinstance(error, ScreeningError) and isinstance(error, DomainError)
    assert (error.code, error.status) == ("invalid", 422)  # the API's contract is unchanged
    assert error.english == "instrument phq9 is not installed"
    with app.test_request_context():
        with force_locale("zh_CN"):
            assert PHQ_NAME_ZH in error.message
            assert "installed" not in error.message
            # a held answer's stored reason (the English) reads in Chinese on the review page
            assert PHQ_NAME_ZH in translate_message(error.english)
        with force_locale("en"):
            assert "is not installed" in error.message


def test_a_refusal_carrying_a_row_message_is_translated_by_the_catalog(app) -> None:  # type: ignore[no-untyped-def]
    error = ScreeningError("student is not active")
    assert error.english == "student is not active"
    with app.test_request_context(), force_locale("zh_CN"):
        assert error.message != "student is not active"


class _Decision:
    to_tier = 2


def test_the_review_confirmation_comes_from_the_registered_describer(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import wellbeing.crisis.notices  # noqa: F401  (registers itself, as the app does)

    assert review._describers, "the crisis module registers its describer when imported"
    calls = []

    def describe(session, student, decision, *, since: dt.datetime) -> str:  # type: ignore[no-untyped-def]
        calls.append((student, decision, since))
        return "described"

    since = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    student = uuid.uuid4()
    monkeypatch.setattr(review, "_describers", [describe])
    assert review.decision_message(None, student, _Decision, since=since) == "described"
    assert calls == [(student, _Decision, since)]
    monkeypatch.setattr(review, "_describers", [])
    with app.test_request_context(), force_locale("en"):
        assert review.decision_message(None, student, None, since=since) == "Nothing was changed."
        assert review.decision_message(None, student, _Decision, since=since) == "Saved."
