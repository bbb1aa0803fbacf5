"""The Argon2 hasher for passwords and recovery codes, with the configured costs."""

from __future__ import annotations

from argon2 import PasswordHasher

from ..config import Settings


def password_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
