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
ENVIRONMENTS = ("production", "development")
DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"
MAX_TRUSTED_PROXIES = 5
BODY_LIMIT = 512 * 1024  # bytes of a request body, except upload routes (max_upload_mb)


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """``env`` is production unless told otherwise: ``wellbeing demo`` and the test suite set
    development. Production means Secure cookies, HSTS over HTTPS, a required https://
    ``base_url`` and, for the web app, Redis for the login throttles (see :func:`check_serving`).
    """

    env: str = "production"
    database_url: str = "sqlite:///instance/wellbeing.db"
    key_file: str | None = None
    master_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    smtp_url: str | None = None
    mail_from: str = "wellbeing@localhost"
    redis_url: str | None = None
    timezone: str = "Asia/Shanghai"
    locale: str = "zh_CN"
    base_url: str = DEVELOPMENT_BASE_URL  # required (https://) in production
    audit_checkpoint_dir: str = "instance/audit-checkpoints"
    idle_timeout_minutes: int = 30
    absolute_timeout_hours: int = 12
    break_glass_minutes: int = 60
    # A screening kiosk (a device handed to students) closes after this long at the latest.
    kiosk_timeout_minutes: int = 90
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    login_limit: str = "10 per 15 minutes"
    secure_cookies: bool = False  # always on in production
    trusted_proxies: int = 0  # reverse proxies in front of the app whose X-Forwarded-* count
    max_upload_mb: int = 32  # roster and screening files (MiB); other requests get 512 KiB
    single_process: bool = False  # one process serves the app: per-process throttles suffice
    # Reports that leave case-worker screens show counts below this as "<10" (issue 16); zeros
    # "shown" or "suppressed". A setting until the district policy carries them.
    suppression_threshold: int = 10
    suppression_zeros: str = "shown"
    testing: bool = False
    scheduler_in_process: bool = False

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def cookies_secure(self) -> bool:
        return self.secure_cookies or self.production

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
    "kiosk_timeout_minutes": 5,
    "argon2_time_cost": 1,
    "argon2_memory_kib": 8,
    "argon2_parallelism": 1,
    "max_upload_mb": 1,
    "suppression_threshold": 2,
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
    if settings.production and "base_url" not in values:
        raise ConfigError(
            f"{PREFIX}BASE_URL is required in production: the https:// address people open "
            "(links in e-mails, calendar feeds and exports are built from it)"
        )
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    if settings.env not in ENVIRONMENTS:
        raise ConfigError(
            f"{PREFIX}ENV must be one of {', '.join(ENVIRONMENTS)}, got {settings.env!r}"
        )
    _validate_base_url(settings)
    if settings.trusted_proxies > MAX_TRUSTED_PROXIES:
        raise ConfigError(
            f"{PREFIX}TRUSTED_PROXIES must be between 0 and {MAX_TRUSTED_PROXIES}, "
            f"got {settings.trusted_proxies}"
        )
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


def _validate_base_url(settings: Settings) -> None:
    url = urlparse(settings.base_url)
    if url.scheme not in {"http", "https"} or not url.hostname or url.query or url.fragment:
        raise ConfigError(
            f"{PREFIX}BASE_URL must be an http:// or https:// address without query, "
            f"got {settings.base_url!r}"
        )
    if settings.production and url.scheme != "https":
        raise ConfigError(f"{PREFIX}BASE_URL must start with https:// in production")


def check_serving(settings: Settings) -> None:
    """Refuse to serve in production when login throttles would be counted per process.

    Without Redis each worker keeps its own counters, so N workers allow N times the failed
    logins the limit says (and a restart forgets them). ``wellbeing run`` is one process;
    gunicorn can run several, so it needs Redis unless WELLBEING_SINGLE_PROCESS declares one.
    """
    if settings.production and not settings.redis_url and not settings.single_process:
        raise ConfigError(
            f"{PREFIX}REDIS_URL is required in production: without it each worker process "
            f"counts failed logins on its own (set {PREFIX}SINGLE_PROCESS=true only if exactly "
            "one process serves the app)"
        )


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    if not database_url.startswith("sqlite"):
        return None
    path = database_url.split(":///", 1)[-1]
    return None if path in {"", ":memory:"} else Path(path)
