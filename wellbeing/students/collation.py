"""Names in the order a Chinese school list uses: by pinyin (安 < 白 < 陈 … < 张 < 赵).

Names are encrypted, so the database cannot order them: lists of students and users are
sorted in Python after decryption, with :func:`pinyin_key` (``sorted(rows, key=...)``).
Readings come from pypinyin's character table (the phrase tables cost tens of megabytes and
names are not phrases); the first character of a name is read as a surname (单 Shan, 曾 Zeng).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

# Surnames whose reading differs from the character's most common one.
_SURNAME_READINGS = {
    "单": "shan4", "曾": "zeng1", "解": "xie4", "仇": "qiu2", "朴": "piao2", "区": "ou1",
    "查": "zha1", "盖": "ge3", "覃": "qin2", "缪": "miao4", "乐": "yue4", "秘": "bi4",
    "折": "she2", "员": "yun4", "召": "shao4", "翟": "zhai2", "种": "chong2", "尉": "yu4",
    "祭": "zhai4", "句": "gou1", "长": "chang2", "万": "wan4", "尹": "yin3",
}  # fmt: skip
_TONES = {"\u0304": "1", "\u0301": "2", "\u030c": "3", "\u0300": "4"}


@functools.lru_cache(maxsize=16384)
def _reading(char: str) -> str | None:
    """``"张"`` → ``"zhang1"`` (tone as a digit, ü as v); None when not a Han character."""
    # pypinyin takes ~0.25 s to import: it loads when a name is first sorted
    from pypinyin.pinyin_dict import pinyin_dict

    readings = pinyin_dict.get(ord(char))
    if not readings:
        return None
    letters: list[str] = []
    tone = "5"
    for part in unicodedata.normalize("NFD", readings.split(",")[0]):
        if part in _TONES:
            tone = _TONES[part]
        elif part == "\u0308":  # ü
            letters[-1] = "v"
        else:
            letters.append(part)
    return "".join(letters) + tone


def pinyin_key(name: str | None) -> tuple[tuple[int, str], ...]:
    """Sort key of a person's name: Chinese characters by pinyin (surname reading first),
    Latin letters case-insensitively; Chinese and Latin names interleave by their letters."""
    text = " ".join(unicodedata.normalize("NFKC", name or "").split())
    key: list[tuple[int, str]] = []
    for position, char in enumerate(text):
        reading = _SURNAME_READINGS.get(char) if position == 0 else None
        reading = reading or _reading(char)
        if reading is not None:
            key.append((0, reading))
        elif char.isalnum():
            key.append((0, char.casefold()))
    return (*key, (1, text))


def sorted_by_name(items: Iterable[T], name: Callable[[T], str | None]) -> list[T]:
    """``items`` ordered by the pinyin of ``name(item)``."""
    return sorted(items, key=lambda item: pinyin_key(name(item)))


__all__ = ["pinyin_key", "sorted_by_name"]
