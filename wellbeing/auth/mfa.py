"""The second factor: TOTP codes, enrolment (with an inline SVG QR code) and resetting it."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pyotp
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..config import Settings
from ..core import audit
from ..core.authz import MFA_REQUIRED_ROLES, Permission, Principal, Role, ensure
from ..core.errors import DomainError
from ..db import utcnow
from . import recovery
from .models import User, UserSession
from .recovery import delete_codes
from .sessions import revoke_all_sessions, revoke_other_sessions

TOTP_ISSUER = "Wellbeing"


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


def verify_totp(
    user: User, code: str, secret: str | None = None, now: dt.datetime | None = None
) -> bool:
    """Accept a code of the current step (±1 for clock drift) that is newer than the last used."""
    secret = secret or user.totp_secret
    code = "".join(unicodedata.normalize("NFKC", code or "").split())  # full-width digits too
    if not secret or not code.isdigit() or len(code) != 6:
        return False
    totp = pyotp.TOTP(secret)
    moment = now or utcnow()
    step_now = int(moment.timestamp()) // totp.interval
    for step in (step_now - 1, step_now, step_now + 1):
        if step <= user.totp_last_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            user.totp_last_step = step
            return True
    return False


def verify_second_factor(
    session: Session, settings: Settings, user: User, code: str, now: dt.datetime | None = None
) -> str | None:
    """Check a TOTP code or, instead, one of the user's recovery codes (which is then spent).

    Returns ``"totp"`` or ``"recovery"`` for the factor that matched, None when nothing did."""
    if recovery.looks_like_code(code):
        return "recovery" if recovery.use_code(session, settings, user, code, now=now) else None
    return "totp" if verify_totp(user, code, now=now) else None


def mfa_required(user: User) -> bool:
    return any(Role(m.role) in MFA_REQUIRED_ROLES for m in user.memberships)


def totp_qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG QR code (a path, no script or style: strict CSP)."""
    # qrcode and its SVG writer (~40 ms to import) load only when someone enrols a second factor
    import qrcode
    import qrcode.image.svg  # (see above)

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return image.to_string(encoding="unicode")


class MfaError(DomainError):
    """A refused second-factor change (already set up, not set up, not yours to reset)."""

    code = "mfa_refused"


def pending_totp_secret(user: User) -> str:
    """The secret being enrolled (kept encrypted on the user until confirmed)."""
    if user.totp_enabled:
        raise MfaError(_l("Two-factor authentication is already set up."))
    secret = user.totp_secret
    if not secret:
        secret = new_totp_secret()
        user.totp_secret = secret
    return secret


def confirm_enrolment(
    session: Session, user: User, code: str, now: dt.datetime | None = None
) -> bool:
    """Turn TOTP on when ``code`` matches the pending secret."""
    if user.totp_enabled:
        raise MfaError(_l("Two-factor authentication is already set up."))
    if not user.totp_secret or not verify_totp(user, code, now=now):
        return False
    user.totp_enabled = True
    audit.record(session, audit.AuditAction.MFA_ENROL, object_type="user", object_id=user.id)
    return True


def reset_mfa(session: Session, user: User, current: UserSession | None) -> int:
    """Remove the second factor (after :func:`reauthenticate`); the user enrols again.

    Other sessions end; the current one is marked as not MFA-verified, so users whose role
    requires a second factor are sent to enrolment before anything else.
    """
    if not user.totp_enabled:
        raise MfaError(_l("Two-factor authentication is not set up."))
    user.totp_secret = None
    user.totp_enabled = False
    delete_codes(session, user)
    if current is not None:
        current.mfa_passed = False
    ended = revoke_other_sessions(session, user, current)
    audit.record(session, audit.AuditAction.MFA_RESET, object_type="user", object_id=user.id,
                 fields=["totp_secret"], detail={"sessions_ended": ended})  # fmt: skip
    return ended


def admin_reset_mfa(session: Session, actor: Principal | None, user: User) -> int:
    """An administrator removes a user's second factor (lost phone): the recovery codes go too,
    every session of the user ends and the user enrols again at the next sign-in. ``actor=None``
    is the CLI; on the web the administrator re-authenticates first (views). Returns how many
    sessions ended."""
    if actor is not None:
        ensure(actor, Permission.USERS_MANAGE)
        if actor.user_id == user.id:
            raise MfaError(_l("Reset your own second factor on your account page."))
    user.totp_secret = None
    user.totp_enabled = False
    codes = delete_codes(session, user)
    ended = revoke_all_sessions(session, user.id)
    audit.record(session, audit.AuditAction.MFA_RESET, object_type="user", object_id=user.id,
                 fields=["totp_secret", "recovery_codes"],
                 detail={"by": "admin", "sessions_ended": ended, "recovery_codes_removed": codes})  # fmt: skip
    return ended
