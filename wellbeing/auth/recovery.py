"""One-time recovery codes: what lets a user in when the phone with the authenticator app is lost.

A set of :data:`RECOVERY_CODE_COUNT` codes is made when TOTP is enrolled and whenever the user
asks for a new set (after re-authentication); a new set deletes the old one. The codes are shown
once and stored as Argon2 hashes (the password hasher), so a copy of the database does not
reveal them. A code stands in for a TOTP code at the second sign-in step or a re-authentication
and is spent by a conditional update, so two requests cannot both use it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import unicodedata

from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ..config import Settings
from ..core import audit
from ..core.errors import DomainError
from ..db import utcnow
from .hashing import password_hasher
from .models import RecoveryCode, User

RECOVERY_CODE_COUNT = 10
# No 0/O, 1/I/L or U: nothing to confuse when read from paper. 30 symbols, 12 of them: 58 bits.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12


class RecoveryError(DomainError):
    """A refused recovery-code request (no second factor set up)."""

    code = "recovery_refused"


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize_code(value: str) -> str:
    """What the user typed, as stored: full-width forms folded (Chinese input methods), spaces
    and dashes dropped, upper case."""
    folded = unicodedata.normalize("NFKC", value or "")
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "-_").upper()


def looks_like_code(value: str) -> bool:
    cleaned = normalize_code(value)
    return len(cleaned) == CODE_LENGTH and all(ch in ALPHABET for ch in cleaned)


def remaining_codes(session: Session, user: User) -> int:
    return int(
        session.scalar(
            select(func.count(RecoveryCode.id)).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


def delete_codes(session: Session, user: User) -> int:
    """Remove every code of ``user`` (second factor reset); returns how many were unused."""
    left = remaining_codes(session, user)
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    return left


def regenerate_codes(session: Session, settings: Settings, user: User) -> list[str]:
    """A new set of codes for a user with TOTP on (after re-authentication or enrolment); the
    old set stops working. Returns the codes, to be shown once."""
    if not user.totp_enabled:
        raise RecoveryError(_l("Set up two-factor authentication first."))
    replaced = delete_codes(session, user)
    hasher = password_hasher(settings)
    codes = [_new_code() for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(
        RecoveryCode(user_id=user.id, code_hash=hasher.hash(normalize_code(code))) for code in codes
    )
    session.flush()
    audit.record(session, audit.AuditAction.MFA_RECOVERY_CODES, object_type="user",
                 object_id=user.id, detail={"codes": len(codes), "unused_replaced": replaced})  # fmt: skip
    return codes


def use_code(
    session: Session, settings: Settings, user: User, value: str, now: dt.datetime | None = None
) -> bool:
    """Spend the matching unused code of ``user``; False when none matches."""
    if not user.totp_enabled or not looks_like_code(value):
        return False
    cleaned = normalize_code(value)
    hasher = password_hasher(settings)
    rows = session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).all()
    for row in rows:
        try:
            hasher.verify(row.code_hash, cleaned)
        except (VerificationError, InvalidHashError):
            continue
        spent = session.execute(
            update(RecoveryCode)
            .where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
            .values(used_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )
        if int(getattr(spent, "rowcount", 0) or 0) != 1:
            return False  # spent by a concurrent request a moment ago
        session.expire(row)
        audit.record(session, audit.AuditAction.MFA_RECOVERY_USED, object_type="user",
                     object_id=user.id, detail={"left": len(rows) - 1})  # fmt: skip
        return True
    return False
