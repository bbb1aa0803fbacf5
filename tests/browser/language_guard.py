"""The language guard of every browser test: a zh_CN user never sees an English sentence.

Each page the browser loads records its visible text (text nodes, the title, placeholders,
button values, ``title``/``aria-label``/``alt`` attributes) when it has loaded; at teardown the
``browser_page`` fixture also reads the page as it is then, and fails the test if any text a
zh_CN user saw is English. Nothing is recorded while the page's language is not Chinese (a user
who switched to English) or inside an element with ``lang`` other than Chinese (the "English"
button of the language switch), ``translate="no"`` (opt-out for data, e.g. a CSV header sample)
or ``code``/``kbd``/``samp``/``pre`` (codes, secrets, file excerpts).

"English" is defined so that data never counts:

- the values that are legitimately data in the test database — user names and usernames,
  e-mails, school, district, class, campaign, mapping and token names, student names — are
  removed from the text first (tests create users such as ``"psych_teacher user"``);
- e-mail addresses, URLs and paths, and tokens containing a digit (student numbers
  ``J2024017``, ``PHQ-9``, dates, times, counts) are removed;
- what is left is English if it has two or more English words (a sentence or a phrase), or is
  one English word on its own (a label such as ``incomplete``), or contains a raw code in
  ``snake_case`` (``concern_soon``, ``psych_teacher``). Upper-case acronyms (``CSV``, ``PDF``,
  ``TOTP``) are not words: they are written that way in Chinese too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select

# Collected in the page itself (an init script, so it runs on every document of the context
# before the page's own scripts; DevTools-injected, so the app's CSP does not block it).
COLLECT_JS = r"""
(() => {
  const KEY = "__language_guard__";
  const SKIP = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "CODE", "KBD", "SAMP", "PRE"]);
  function chinese(el) {
    let decided = null;
    for (let e = el; e; e = e.parentElement) {
      if (SKIP.has(e.tagName) || e.getAttribute("translate") === "no") return false;
      const lang = e.getAttribute("lang");
      if (decided === null && lang) decided = lang.toLowerCase().startsWith("zh");
    }
    return decided === true;
  }
  function visible(el) {
    if (typeof el.checkVisibility === "function") {
      return el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
    }
    return el.getClientRects().length > 0;
  }
  function collect() {
    const texts = [];
    if (!document.documentElement || !document.body) return texts;
    if (document.title && chinese(document.documentElement)) texts.push(document.title);
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.nodeValue.replace(/\s+/g, " ").trim();
      const el = node.parentElement;
      if (text && el && chinese(el) && visible(el)) texts.push(text);
    }
    for (const el of document.body.querySelectorAll("[placeholder], [title], [aria-label], [alt], input[type=submit], input[type=button], input[type=reset]")) {
      if (!chinese(el) || !(visible(el) || el.getAttribute("aria-label"))) continue;
      for (const name of ["placeholder", "title", "aria-label", "alt"]) {
        const value = (el.getAttribute(name) || "").trim();
        if (value) texts.push(value);
      }
      if (el.tagName === "INPUT" && /^(submit|button|reset)$/.test(el.type) && el.value) texts.push(el.value);
    }
    return texts;
  }
  function record() {
    try {
      const seen = JSON.parse(sessionStorage.getItem(KEY) || "[]");
      seen.push({ url: location.pathname + location.search, texts: collect() });
      sessionStorage.setItem(KEY, JSON.stringify(seen.slice(-200)));
    } catch (e) { /* about:blank, data: URLs: no storage, nothing to check */ }
  }
  window.__languageGuardCollect = collect;
  window.addEventListener("load", record);
})();
"""

READ_JS = r"""
() => {
  let seen = [];
  try { seen = JSON.parse(sessionStorage.getItem("__language_guard__") || "[]"); } catch (e) {}
  if (window.__languageGuardCollect) {
    seen.push({ url: location.pathname + location.search + " (at the end of the test)",
                texts: window.__languageGuardCollect() });
  }
  return seen;
}
"""

# Explicit allow-list, kept short. Each entry is English that a zh_CN user legitimately sees.
ALLOWED_WORDS = frozenset(
    {
        # Authenticator apps are named in their own (Latin-script) brand names.
        "Google",
        "Authenticator",
        "Microsoft",
        "FreeOTP",
    }
)

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_EMAIL = re.compile(r"\S+@\S+")
_URL = re.compile(r"https?://\S+|(?<![\w/])/[\w./?=&%-]+")
_WITH_DIGIT = re.compile(r"\S*\d\S*")
_SNAKE_CODE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_ACRONYM = re.compile(r"[A-Z]{2,6}s?")


def _words(text: str) -> list[str]:
    text = _WITH_DIGIT.sub(" ", text)
    return [w for w in _WORD.findall(text) if w not in ALLOWED_WORDS and not _ACRONYM.fullmatch(w)]


def is_english(text: str, data: Iterable[str] = ()) -> bool:
    """Would a zh_CN user read ``text`` as an untranslated English message or a raw code?"""
    rest = text
    for value in sorted(data, key=len, reverse=True):
        if value and value in rest:
            rest = rest.replace(value, " ")
    rest = _URL.sub(" ", _EMAIL.sub(" ", rest))
    if _SNAKE_CODE.search(rest):
        return True
    if _CJK.search(rest):
        # Chinese text with an English phrase in it ("原因: Item changed by rule")
        return any(len(_words(part)) >= 2 for part in _CJK.split(rest))
    words = _words(rest)
    if len(words) >= 2:
        return True
    # one English word alone is a label ("incomplete", "Save"); a one-letter token is not
    bare = _WITH_DIGIT.sub(" ", rest).strip(" :：.,;()（）-–·|/")
    return len(words) == 1 and len(words[0]) >= 3 and bare == words[0]


def database_values(db) -> set[str]:  # type: ignore[no-untyped-def]
    """Names and codes that are data in the test database (shown as entered, never translated)."""
    from wellbeing.auth.models import ApiToken, User
    from wellbeing.orgs.models import District, School, SchoolClass
    from wellbeing.screening.models import Campaign, ColumnMapping
    from wellbeing.students.models import Student

    values: set[str] = set()
    with db.session() as session:
        for row in session.execute(select(User.username, User.display_name, User.email)):
            values.update(v for v in row if v)
        for model in (District, School):
            for row in session.execute(select(model.code, model.name)):
                values.update(v for v in row if v)
        values.update(session.scalars(select(SchoolClass.label)))
        for model in (ApiToken, Campaign, ColumnMapping):
            values.update(session.scalars(select(model.name)))
        for student in session.scalars(select(Student)):
            values.add(student.name)
    return {v for v in values if v}


def english_seen(pages: Iterable[dict], data: Iterable[str]) -> list[str]:
    """``["/path: 'text'", ...]`` for every English text recorded on the pages."""
    data = set(data)
    problems: list[str] = []
    for page in pages:
        for text in page.get("texts", []):
            line = f"{page.get('url')}: {text!r}"
            if is_english(text, data) and line not in problems:
                problems.append(line)
    return problems
