"""Grades and classes as schools write them: 四年级, 七年级, 高一; 七年级(3)班, 高一(1)班.

Grades are stored as numbers 1–12 (primary 1–6, junior high 7–9, senior high 10–12) and a class
by its label as the school entered it (usually "3班", sometimes "3" or a name such as "实验班").
Every template (Jinja globals ``grade_label`` / ``class_label``, see :mod:`wellbeing.ui`) writes
them through these functions, so no page shows "10年级 1班"; an export that writes grades or
classes for people (none does today: the API sends the numbers) must use them too.
"""

from __future__ import annotations

import re
import unicodedata
from contextlib import nullcontext

from flask_babel import force_locale, get_locale
from flask_babel import gettext as _

_ZH_GRADES = {
    1: "一年级", 2: "二年级", 3: "三年级", 4: "四年级", 5: "五年级", 6: "六年级",
    7: "七年级", 8: "八年级", 9: "九年级", 10: "高一", 11: "高二", 12: "高三",
}  # fmt: skip
# "3", "3班", "(3)班", "（3）班", "03班": a class known by its number.
_NUMBERED = re.compile(r"\(?0*(\d{1,3})\)?\s*班?")


def _chinese(locale: str | None) -> bool:
    if locale is None:
        current = get_locale()
        locale = str(current) if current is not None else "zh_CN"
    return locale.startswith("zh")


def grade_label(grade: int | None, locale: str | None = None) -> str:
    """12 → 高三 (zh) / Grade 12 (en); ``locale`` defaults to the request's."""
    if grade is None:
        return ""
    if _chinese(locale):
        return _ZH_GRADES.get(int(grade), f"{grade}年级")
    with force_locale(locale) if locale else nullcontext():
        return _("Grade %(n)s", n=grade)


def class_number(label: str | None) -> int | None:
    """The number of a numbered class ("3班", "(3)班", "３", "03") or None ("实验班")."""
    if not label:
        return None
    match = _NUMBERED.fullmatch(unicodedata.normalize("NFKC", label).strip())
    return int(match[1]) if match else None


def class_label(grade: int | None, label: str | None, locale: str | None = None) -> str:
    """(10, "1班") → 高一(1)班 / Grade 10, class 1; (7, "实验班") → 七年级实验班.

    Without a class label, the grade alone.
    """
    year = grade_label(grade, locale)
    if not label:
        return year
    number = class_number(label)
    if _chinese(locale):
        return f"{year}({number})班" if number is not None else f"{year}{label.strip()}"
    with force_locale(locale) if locale else nullcontext():
        if number is not None:
            return _("%(grade)s, class %(num)s", grade=year, num=number)
        return _("%(grade)s, %(label)s", grade=year, label=label.strip())


def school_label(school: object) -> str:
    """第一中学（sch1）: a school's name with its code, for choosing among schools."""
    return _(
        "%(name)s (%(code)s)", name=getattr(school, "name", ""), code=getattr(school, "code", "")
    )


def grade_range_label(grades: list[int] | tuple[int, ...], locale: str | None = None) -> str:
    """[7, 8, 9] → 七年级–九年级; one grade → that grade."""
    if not grades:
        return ""
    low, high = min(grades), max(grades)
    if low == high:
        return grade_label(low, locale)
    return f"{grade_label(low, locale)}–{grade_label(high, locale)}"


__all__ = ["class_label", "class_number", "grade_label", "grade_range_label", "school_label"]
