"""Every user-facing string has a zh_CN translation (the default locale), and pages render in
both languages."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = ROOT / "wellbeing" / "translations"
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}
METHODS = [("wellbeing/**.py", "python"), ("templates/**.html", "jinja2")]


def _source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=METHODS, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return {m for m in found if m}


def _catalog(locale: str):  # type: ignore[no-untyped-def]
    with (CATALOGS / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle)


def test_every_source_string_has_a_chinese_translation():
    catalog = _catalog("zh_CN")
    missing = []
    for message in sorted(_source_messages()):
        entry = catalog.get(message)
        translated = entry is not None and (
            all(entry.string) if isinstance(entry.string, tuple) else bool(entry.string)
        )
        if not translated or (entry is not None and entry.fuzzy):
            missing.append(message)
    assert missing == [], (
        f"{len(missing)} strings lack a zh_CN translation (make extract), e.g. {missing[:5]}"
    )


def test_an_english_catalog_exists():
    assert (CATALOGS / "en" / "LC_MESSAGES" / "messages.po").exists()


def test_the_login_page_speaks_chinese_by_default_and_english_on_request(env, db_session):
    from dataclasses import replace

    from wellbeing import create_app

    from .conftest import CsrfClient

    app = create_app(replace(env.settings, locale="zh_CN"), db=env.db)
    assert app.config["BABEL_DEFAULT_LOCALE"] == "zh_CN"
    app.test_client_class = CsrfClient
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page and 'lang="zh-CN"' in page
    client.post("/locale", data={"locale": "en", "next": "/login"})
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in" in page and 'lang="en"' in page


# --------------------------------------------------------------------------- school conventions

_CJK = re.compile(r"[\u3400-\u9fff]")
# Not Chinese prose, so ASCII is right there: placeholders, %%, URLs, `commands`, times
# (08:30), ranges and ratios between digits (1-40, 3/5), and the class convention 高一(1)班
# (the way schools write a class, e.g. "%(grade)s(%(num)s)班").
_NOT_PROSE = re.compile(
    r"%\(\w+\)[sdif]|%%|https?://\S+|`[^`]*`|\d+:\d+|(?<=[\d)])[-/](?=[\d%])|\(%\(num\)s\)班"
)
_ASCII_PUNCTUATION = re.compile(r"[:;,?!()]")


def test_chinese_translations_use_full_width_punctuation():
    """学生：, （待确认）, 、 — not "学生:", "(待确认)" in Chinese text."""
    offenders = []
    for entry in _catalog("zh_CN"):
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for text in strings:
            prose = _NOT_PROSE.sub("", text or "")
            if entry.id and _CJK.search(prose) and _ASCII_PUNCTUATION.search(prose):
                offenders.append(f"{entry.id!r} -> {text!r}")
    assert offenders == [], "use ：（），；？！ in Chinese:\n" + "\n".join(offenders)


def test_the_name_of_a_thing_is_mingcheng():
    """姓名 is a person's name; a campaign, mapping, school, token or class has a 名称."""
    thing = re.compile(r"\b(campaign|mapping|school|token|class|district|filter) name\b", re.I)
    wrong = [
        f"{e.id!r} -> {e.string!r}"
        for e in _catalog("zh_CN")
        if isinstance(e.id, str) and thing.search(e.id) and "姓名" in (e.string or "")
    ]
    assert wrong == []
    for msgid in ("Campaign name", "Mapping name", "Token name", "School name"):
        assert "名称" in _catalog("zh_CN").get(msgid).string


def test_templates_put_punctuation_inside_the_translation():
    """``{{ _("Rows") }}:`` and ``({{ _("left") }})`` print ASCII punctuation next to Chinese
    text: use the ``colon`` and ``parens`` filters (full-width in Chinese) instead."""
    outside = re.compile(r"_\(\"[^\"]*\"\)\s*\}\}(\{%[^%]*%\})?\s?[:(]|\(\{\{ _\(|\(\{\{ \(_\(")
    found = [
        f"{path.relative_to(ROOT)}:{text[: match.start()].count(chr(10)) + 1}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for text in [path.read_text(encoding="utf-8")]
        for match in outside.finditer(text)
    ]
    assert found == []


_COUNTED = re.compile(
    r"%\(\w+\)[ds] (days|hours|minutes|weeks|months|entries|students|rows|alerts|items|"
    r"attempts|follow-ups|classes|users|schools|problems|errors)\b"
)


def test_counted_messages_use_ngettext():
    """ "every 1 days": a message with a count and a plural noun goes through ngettext."""
    singular_only = [
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=METHODS, keywords=KEYWORDS
        )
        if isinstance(message, str)
        and _COUNTED.search(message)
        and "more than %(" not in message  # a size limit ("more than %(count)s rows") is large
    ]
    assert singular_only == []
