"""The refusals of the screening services, translatable.

A refusal carries its message as a msgid (``_l("... %(name)s ...")``) and the values of its
named placeholders separately, so a page translates the msgid *first* and fills it afterwards
(:meth:`ScreeningError.translated`). Formatting first and translating the result finds nothing
in the catalog: the Chinese page showed English. ``str(exc)`` stays English for the CLI, the
API and logs. Placeholders named ``instrument``/``instruments`` hold instrument codes; people
see the instruments' names instead.
"""

from __future__ import annotations

from typing import Any

from .messages import instrument_names, translate_message

INSTRUMENT_PARAMS = ("instrument", "instruments")


def _english(message: Any) -> str:
    """The msgid of a lazy string (flask_babel's ``LazyString`` keeps it as its first arg)."""
    args = getattr(message, "_args", None)
    return str(args[0]) if args else str(message)


class ScreeningError(ValueError):
    """A refused screening action; the message is safe to show.

    ``message`` is a lazy msgid with named placeholders, or a plain English message of the
    intake (which the import's catalog translates, :mod:`.messages`)."""

    def __init__(self, message: Any, **params: Any) -> None:
        self.message = message
        self.params = params
        english = _english(message)
        super().__init__(english % params if params else english)

    def translated(self) -> str:
        """The message in the current locale: translated, then filled."""
        if isinstance(self.message, str):
            return translate_message(str(self))
        params = {
            k: instrument_names(str(v)) if k in INSTRUMENT_PARAMS else v
            for k, v in self.params.items()
        }
        return str(self.message) % params if params else str(self.message)


__all__ = ["INSTRUMENT_PARAMS", "ScreeningError", "instrument_names"]
