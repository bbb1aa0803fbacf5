"""The one place that turns a user-supplied return address (``?next=``, a form's ``next``) into
a redirect target.

Browsers are lenient with a ``Location``: they drop tabs and newlines anywhere in it, treat
``\\`` like ``/`` and read ``//host`` as another site. So the value is first cleaned the way a
browser would see it (control and format characters removed, which also keeps CR/LF out of
the header), then accepted only when it is a path on this site: it starts with one ``/``, the
next character (also after percent-decoding) is not another slash or a backslash, and nothing in
it is whitespace or a backslash. Anything else sends the user home.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

MAX_LENGTH = 2000
_CONTROL = frozenset(
    {"Cc", "Cf", "Cs", "Co", "Cn"}
)  # control, format, surrogate, private, unassigned


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in _CONTROL


def _strip_controls(value: str) -> str:
    return "".join(ch for ch in value if not _is_control(ch))


def _starts_as_local_path(value: str) -> bool:
    """A single ``/`` followed by something that cannot begin an authority."""
    if not value.startswith("/"):
        return False
    second = value[1:2]
    return second not in {"/", "\\"} and not (second and (second.isspace() or _is_control(second)))


def is_same_site_path(value: str) -> bool:
    """True when ``value`` (already cleaned) is a path on this site and nothing else."""
    if not value or len(value) > MAX_LENGTH or "\\" in value:
        return False
    if any(ch.isspace() or _is_control(ch) for ch in value):
        return False
    if not _starts_as_local_path(value) or not _starts_as_local_path(unquote(value)):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc and parts.path.startswith("/")


def safe_next(target: object, default: str) -> str:
    """``target`` cleaned of control characters when it is a same-site path, else ``default``."""
    if not isinstance(target, str) or len(target) > MAX_LENGTH:
        return default
    cleaned = _strip_controls(target)
    return cleaned if is_same_site_path(cleaned) else default
