"""Wellbeing: privacy-first case management for students' psychological health."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.exc import OperationalError, ProgrammingError
from werkzeug.middleware.proxy_fix import ProxyFix

from . import modules
from .config import (
    BODY_LIMIT,
    ConfigError,
    Settings,
    check_serving,
    load_settings,
    sqlite_path,
    validate,
)
from .core import crypto
from .db import Database

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR.parent / "templates"

log = logging.getLogger("wellbeing")


def open_keyring(db: Database, settings: Settings) -> crypto.Keyring:
    """Load the master key and unwrap the data keys, or raise a one-line error."""
    # Every `import wellbeing.x` runs this file first: it stays light, the modules load here
    from .keys.services import load_keyring

    material = crypto.load_key_material(settings.key_file, settings.master_key)
    try:
        with db.session() as session:
            return load_keyring(session, material, db)
    except (OperationalError, ProgrammingError):
        raise ConfigError(
            "the database is not initialised (or unreachable): run `wellbeing init`"
        ) from None


def _secret_key(settings: Settings, instance: Path) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
        log.warning("WELLBEING_SECRET_KEY not set: generated %s (set it in production)", path)
    return path.read_text(encoding="utf-8").strip()


def create_app(
    config: Settings | dict[str, Any] | None = None, *, db: Database | None = None
) -> Flask:
    """Build the app from settings (validated) and an opened keyring; refuse to start otherwise."""
    settings = config if isinstance(config, Settings) else load_settings(**(config or {}))
    validate(settings)
    check_serving(settings)
    modules.import_services()
    db = db or Database(settings.database_url)
    keyring = open_keyring(db, settings)

    app = Flask(
        __name__,
        template_folder=str(TEMPLATES_DIR),
        static_folder=str(PACKAGE_DIR / "static"),
        instance_path=str(Path("instance").resolve()),
    )
    app.config.update(
        SECRET_KEY=_secret_key(settings, Path(app.instance_path)),
        TESTING=settings.testing,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookies_secure,
        SESSION_COOKIE_NAME="wellbeing_session",
        PREFERRED_URL_SCHEME="https" if settings.production else "http",
        MAX_CONTENT_LENGTH=BODY_LIMIT,  # upload routes get more (web.accepts_upload)
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE=settings.locale,
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
        BABEL_TRANSLATION_DIRECTORIES=str(PACKAGE_DIR / "translations"),
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_ENABLED=True,
    )
    app.extensions["wellbeing.settings"] = settings
    app.extensions["wellbeing.db"] = db
    app.extensions["wellbeing.keyring"] = keyring
    if sqlite_path(settings.database_url) is None and settings.database_url.startswith("sqlite"):
        log.warning("in-memory SQLite: data is lost when the process ends")

    if settings.trusted_proxies:
        # Only the client address and the scheme: links never come from the Host header.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's documented way to wrap it
            app.wsgi_app, x_for=n, x_proto=n, x_host=0, x_port=0
        )

    # The web parts load when an app is built (this file runs on every `import wellbeing.x`).
    from .extensions import babel, csrf, limiter, select_locale, select_timezone
    from .web import init_web  # (see above)

    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    limiter.init_app(app)
    init_web(app)
    from .auth.hooks import init_auth  # a module: loads when an app is built (see above)

    init_auth(app)
    from .ui import init_ui  # the shell: loads when an app is built (see above)

    init_ui(app)
    for part in ("views", "api"):  # <module>/views.py (HTML) and <module>/api.py (JSON, /api/v1)
        for blueprint in modules.iter_parts(part, "bp"):
            app.register_blueprint(blueprint)
        # A module whose pages need more than one blueprint (the plans' task pages, the
        # referrals' partner portal) lists the others in ``BLUEPRINTS`` beside ``bp``.
        for extra in modules.iter_parts(part, "BLUEPRINTS"):
            for blueprint in extra:
                app.register_blueprint(blueprint)
    return app
