"""The browser language guard's definition of "English a zh_CN user should not see"
(tests/browser/language_guard.py), checked without a browser."""

from __future__ import annotations

import pytest

from .browser.language_guard import is_english

DATA = {"psych_teacher user", "psychteacher3", "Tom Li", "sch-upload"}


@pytest.mark.parametrize(
    "text",
    [
        "You do not have access to this page.",
        "This page does not exist.",
        "incomplete: 1",
        "Save",
        "concern_soon",
        "原因：phq9_item9_red",
        "班级：Grade 10, class 1",
        "every 1 days",
    ],
)
def test_english_and_codes_are_caught(text):
    assert is_english(text, DATA)


@pytest.mark.parametrize(
    "text",
    [
        "页面不存在",
        "学号：J2024017",
        "J2024017",
        "PHQ-9",
        "2026-12-03 18:54",
        "psych_teacher user",  # a display name in the test database: data
        "Tom Li · 高一(1)班",
        "someone@example.org",
        "CSV · TOTP",
        "https://wellbeing.example.org/calendar/abc_def.ics",
        "/students/search",
        "3 / 12",
        "Microsoft Authenticator",
    ],
)
def test_data_names_numbers_dates_and_acronyms_pass(text):
    assert not is_english(text, DATA)
