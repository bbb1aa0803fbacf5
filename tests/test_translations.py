"""Every user-facing string has a zh_CN translation (the default locale), and pages render in
both languages."""

from __future__ import annotations

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
