"""One base for every refusal a service makes: :class:`DomainError`.

A service raises a subclass with a *lazy* message template and named parameters::

    raise CrisisError(_l("The text is longer than %(n)s characters"), n=MAX_TEXT)

The template is a msgid (``make extract`` finds it through ``_l``); it is translated when the
error is shown, in the reader's language: a page flashes it (:func:`wellbeing.web.flash_error`),
the API answers it as JSON (:func:`wellbeing.web_api.domain_error`), the CLI prints the English
text (no request, no locale). ``code`` is the stable, machine-readable name the API returns.

A service that refuses an illegal change of state raises :class:`IllegalTransition`
(:mod:`wellbeing.core.states`), which is a DomainError too, so views need no special case.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class DomainError(ValueError):
    """Refused input or an illegal change. The message is safe to show to the acting user.

    Subclass per module (``CrisisError``, ``AlertError``...); set ``code`` for the API and
    ``status`` for the HTTP answer when the refusal is not a plain 400/422.
    """

    code: ClassVar[str] = "invalid"
    status: ClassVar[int] = 422

    def __init__(self, template: object = "", /, **params: Any) -> None:
        self.template = template
        self.params: Mapping[str, Any] = params
        super().__init__(template)

    @property
    def message(self) -> str:
        """The message in the current locale (English outside a request)."""
        text = str(self.template)
        if not self.params:
            return text
        try:
            return text % {key: _text(value) for key, value in self.params.items()}
        except (KeyError, TypeError, ValueError):
            return text  # a template that does not use its parameters still reads

    def __str__(self) -> str:
        return self.message


def _text(value: object) -> object:
    """Lazy strings among the parameters are rendered in the same locale as the template."""
    return value if isinstance(value, int | float) else str(value)


class NotFound(DomainError):
    """The object does not exist, or the acting user may not know that it does."""

    code = "not_found"
    status = 404
