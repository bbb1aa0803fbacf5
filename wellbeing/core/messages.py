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
        # refused before parsing (wellbeing/core/xlsx_guard.py)
        "the XLSX file contains an XML document type declaration, which is not allowed": _l(
            "the XLSX file contains an XML document type declaration, which is not allowed"
        ),
        "the XLSX file uses a text encoding that is not supported": _l(
            "the XLSX file uses a text encoding that is not supported"
        ),
    },
    [
        (r"the XLSX file has more than (\d+) parts; save it again as CSV",
         lambda m: _("the XLSX file has more than %(count)s parts; save it again as CSV", count=m[1])),
        (r"the XLSX file unpacks to more than (\d+) MiB; split it or save it as CSV",
         lambda m: _("the XLSX file unpacks to more than %(size)s MiB; split it or save it as CSV",
                     size=m[1])),
        (r"the XLSX file is compressed more than (\d+) to 1, which no spreadsheet is",
         lambda m: _("the XLSX file is compressed more than %(ratio)s to 1, which no spreadsheet is",
                     ratio=m[1])),
        (r"the XLSX file has more than (\d+) different texts; split it or save it as CSV",
         lambda m: _("the XLSX file has more than %(count)s different texts; split it or save it as CSV",
                     count=m[1])),
        (r"a row of the XLSX file is larger than (\d+) MiB",
         lambda m: _("a row of the XLSX file is larger than %(size)s MiB", size=m[1])),
        (r"the worksheet has more than (\d+) rows",
         lambda m: _("the worksheet has more than %(count)s rows", count=m[1])),
        (r"duplicate column header: (.+)", lambda m: _("duplicate column header: %(name)s", name=m[1])),
        (r"malformed CSV at row (\d+)", lambda m: _("malformed CSV at row %(row)s", row=m[1])),
    ],
)  # fmt: skip

__all__ = ["TABULAR", "MessageCatalog"]
