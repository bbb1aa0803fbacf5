"""Settings from ``WELLBEING_*`` environment variables, validated once at start-up.

A bad or missing required value raises :class:`ConfigError` whose message is one line naming the
variable, so that ``wellbeing`` commands and the WSGI entry point stop with a clear sentence
instead of a traceback.
"""

from __future__ import annotations

import os
import zoneinfo
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

PREFIX = "WELLBEING_"
SUPPORTED_LOCALES = ("zh_CN", "en")


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///instance/wellbeing.db"
    key_file: str | None = None
    master_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    smtp_url: str | None = None
    mail_from: str = "wellbeing@localhost"
    redis_url: str | None = None
    timezone: str = "Asia/Shanghai"
    locale: str = "zh_CN"
    base_url: str = "http://127.0.0.1:5000"
    audit_checkpoint_dir: str = "instance/audit-checkpoints"
    idle_timeout_minutes: int = 30
    absolute_timeout_hours: int = 12
    break_glass_minutes: int = 60
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    login_limit: str = "10 per 15 minutes"
    secure_cookies: bool = False
    testing: bool = False
    scheduler_in_process: bool = False

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **overrides)


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{PREFIX}{name.upper()} must be true or false, got {raw!r}")


def _parse_int(name: str, raw: str, minimum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name.upper()} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{PREFIX}{name.upper()} must be at least {minimum}, got {value}")
    return value


_MINIMUMS = {
    "idle_timeout_minutes": 1,
    "absolute_timeout_hours": 1,
    "break_glass_minutes": 1,
    "argon2_time_cost": 1,
    "argon2_memory_kib": 8,
    "argon2_parallelism": 1,
}


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Read and validate settings; ``overrides`` win over the environment (used by tests)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = env.get(PREFIX + f.name.upper())
        if raw is None:
            continue
        if f.type in ("bool", bool):
            values[f.name] = _parse_bool(f.name, raw)
        elif f.type in ("int", int):
            values[f.name] = _parse_int(f.name, raw, _MINIMUMS.get(f.name, 0))
        else:
            values[f.name] = raw.strip() or None if f.default is None else raw.strip()
    values.update(overrides)
    settings = Settings(**values)
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    scheme = urlparse(settings.database_url).scheme.split("+")[0]
    if scheme not in {"sqlite", "postgresql"}:
        raise ConfigError(
            f"{PREFIX}DATABASE_URL must be a sqlite:/// or postgresql:// URL, got {scheme!r}"
        )
    try:
        zoneinfo.ZoneInfo(settings.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{PREFIX}TIMEZONE is not a known time zone: {settings.timezone!r}"
        ) from None
    if settings.locale not in SUPPORTED_LOCALES:
        raise ConfigError(
            f"{PREFIX}LOCALE must be one of {', '.join(SUPPORTED_LOCALES)}, got {settings.locale!r}"
        )
    if settings.smtp_url and urlparse(settings.smtp_url).scheme not in {"smtp", "smtps"}:
        raise ConfigError(f"{PREFIX}SMTP_URL must start with smtp:// or smtps://")
    if settings.redis_url and urlparse(settings.redis_url).scheme not in {"redis", "rediss"}:
        raise ConfigError(f"{PREFIX}REDIS_URL must start with redis:// or rediss://")
    if settings.secret_key is not None and len(settings.secret_key) < 32:
        raise ConfigError(f"{PREFIX}SECRET_KEY must be at least 32 characters long")


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    if not database_url.startswith("sqlite"):
        return None
    path = database_url.split(":///", 1)[-1]
    return None if path in {"", ":memory:"} else Path(path)
