"""The crisis module's refusal (:class:`CrisisError`) and its text check, shared by the
checklist (``services``) and the guardian-contact log (``guardian_log``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..core.errors import DomainError

MAX_TEXT = 4000


class CrisisError(DomainError):
    """Refused input or an illegal change; the message is safe to show."""

    code = "crisis_refused"


def clean_text(text: str | None, what: str) -> str | None:
    text = (text or "").strip() or None
    if text and len(text) > MAX_TEXT:
        raise CrisisError(_l("The text is longer than %(n)s characters"), n=MAX_TEXT)
    return text
