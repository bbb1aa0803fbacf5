"""Staff accounts and what they may touch."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.crypto import Purpose
from ..core.fields import Encrypted, EncryptedBlob, Kind
from ..db import Base, UTCDateTime, created_at, utcnow, uuidpk


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[uuidpk]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")
    active: Mapped[bool] = mapped_column(default=True)
    totp_secret_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    totp_secret = Encrypted("totp_secret_ct", Kind.TEXT, Purpose.ACCOUNT)
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    # Last accepted TOTP time-step: a code for this step or an earlier one is refused.
    totp_last_step: Mapped[int] = mapped_column(default=0)
    on_duty: Mapped[bool] = mapped_column(default=False)  # district counsellor on duty
    created_at: Mapped[created_at]
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when an administrator gave a temporary password: the next session may only change it.
    password_must_change: Mapped[bool] = mapped_column(default=False)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def roles(self) -> set[str]:
        return {m.role for m in self.memberships}


class Membership(Base):
    """Role + scope: the district (school_id NULL), a school, or one class of a school."""

    __tablename__ = "membership"
    __table_args__ = (Index("ix_membership_school_role", "school_id", "role"),)

    id: Mapped[uuidpk]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    district_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("district.id"))
    school_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("school.id"))
    class_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("school_class.id"))
    # The health partner of a liaison (the ``partner`` role): referrals.models.HealthPartner.
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("health_partner.id"))
    created_at: Mapped[created_at]

    user: Mapped[User] = relationship(back_populates="memberships", lazy="raise")


class UserSession(Base):
    """Server-side session: the cookie carries a random token; only its digest is stored."""

    __tablename__ = "user_session"

    id: Mapped[uuidpk]
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[created_at]
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    reauth_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    mfa_passed: Mapped[bool] = mapped_column(default=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(45))


class RecoveryCode(Base):
    """One-time code that stands in for a TOTP code (lost phone). Stored as an Argon2 hash; a
    new set replaces the old one; ``used_at`` is set when it is spent."""

    __tablename__ = "recovery_code"

    id: Mapped[uuidpk]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[created_at]
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """Personal access token: scoped, stored hashed, expiring, revocable."""

    __tablename__ = "api_token"

    id: Mapped[uuidpk]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    scopes: Mapped[str] = mapped_column(String(400))  # space-separated permission names
    created_at: Mapped[created_at]
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def usable(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now
