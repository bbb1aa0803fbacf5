"""Pages translate the short English messages that imports report.

Parsers and services report problems as short English strings, sometimes with a row number or
a header name folded in ("duplicate column header: 学号"), so that logs, the CLI and the API
stay English and stable for machines. A page turns them into the user's language here: an
exact table first, then patterns whose groups fill the placeholders of a msgid, then the
catalog it falls back to. A message nobody knows is shown as is.

The msgids are written out with ``_l``/``_`` in the catalogs, so ``make extract`` sees them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

Render = Callable[[re.Match[str]], str]


class MessageCatalog:
    """English message → text in the current locale (call it within a request)."""

    def __init__(
        self,
        exact: Mapping[str, object],
        patterns: Iterable[tuple[str | re.Pattern[str], Render]] = (),
        fallback: MessageCatalog | None = None,
    ) -> None:
        self._exact = dict(exact)
        self._patterns = [(re.compile(pattern), render) for pattern, render in patterns]
        self._fallback = fallback

    def find(self, message: str) -> str | None:
        """The translation, or None when neither this catalog nor its fallback knows it."""
        if message in self._exact:
            return str(self._exact[message])
        for pattern, render in self._patterns:
            if match := pattern.fullmatch(message):
                return render(match)
        return self._fallback.find(message) if self._fallback is not None else None

    def __call__(self, message: str) -> str:
        found = self.find(message)
        return message if found is None else found


# Messages of :class:`~wellbeing.core.tabular.TabularError` (any upload of a table).
TABULAR = MessageCatalog(
    {
        "file is empty": _l("file is empty"),
        "file is neither UTF-8 nor GB18030 text": _l("file is neither UTF-8 nor GB18030 text"),
        "not a valid XLSX file": _l("not a valid XLSX file"),
        "unsupported file type; expected .csv, .txt or .xlsx": _l(
            "unsupported file type; expected .csv, .txt or .xlsx"
        ),
        "workbook has no worksheet": _l("workbook has no worksheet"),
    },
    [
        (r"duplicate column header: (.+)", lambda m: _("duplicate column header: %(name)s", name=m[1])),
        (r"malformed CSV at row (\d+)", lambda m: _("malformed CSV at row %(row)s", row=m[1])),
    ],
)  # fmt: skip

__all__ = ["TABULAR", "MessageCatalog"]
