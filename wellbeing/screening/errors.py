"""The refusals of the screening services: :class:`ScreeningError` and :class:`IntakeError`,
both :class:`~wellbeing.core.errors.DomainError`.

A refusal carries its message as a lazy msgid (``_l("... %(name)s ...")``) and the values of its
named placeholders separately, so a page translates the msgid *first* and fills it afterwards
(:attr:`ScreeningError.message`, shown by ``flash_error``; the API answers it in English through
``domain_error``). Placeholders named ``instrument``/``instruments`` hold instrument codes;
people see the instruments' names instead.

One refusal is not a msgid: when a single student's answers are refused by the intake, the
refusal is the intake's per-row English message (``RowError.message``, the same text the file
import and the API list row by row); :mod:`.intake.messages` translates those. :attr:`english`
is the English text in both cases (stored as a held answer's reason, which the review page
translates the same way).
"""

from __future__ import annotations

from ..core.errors import DomainError
from .intake.messages import instrument_names, translate_message

INSTRUMENT_PARAMS = ("instrument", "instruments")


def _english(message: object) -> str:
    """The msgid of a lazy string (flask_babel's ``LazyString`` keeps it as its first arg)."""
    args = getattr(message, "_args", None)
    return str(args[0]) if args else str(message)


class ScreeningError(DomainError):
    """A refused screening action; the message is safe to show to the acting user."""

    # The API's error code stays "invalid" (422), as before this was a DomainError: a contract.
    code = "invalid"
    status = 422

    @property
    def english(self) -> str:
        """The message in English whatever the locale (logs, stored reasons, the CLI)."""
        text = _english(self.template)
        return text % dict(self.params) if self.params else text

    @property
    def message(self) -> str:
        """The message in the current locale: translated, then filled."""
        if isinstance(self.template, str):  # an intake's per-row English message
            return translate_message(
                self.template % dict(self.params) if self.params else self.template
            )
        params = {
            k: instrument_names(str(v)) if k in INSTRUMENT_PARAMS else v
            for k, v in self.params.items()
        }
        return str(self.template) % params if params else str(self.template)


class IntakeError(ScreeningError):
    """The campaign refuses entries as a whole (closed, an instrument not installed, invalid
    tier rules, an unknown column mapping): nothing of the batch or file was written."""


__all__ = ["INSTRUMENT_PARAMS", "IntakeError", "ScreeningError", "instrument_names"]
