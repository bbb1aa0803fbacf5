"""gunicorn settings for a district: ``gunicorn -c deploy/gunicorn.conf.py 'wellbeing:create_app()'``.

Every value can be changed from the environment (``GUNICORN_*`` below) without editing this
file; the app itself reads ``WELLBEING_*`` (see ``deploy/wellbeing.env.example``).

Decisions, and why:

* **preload_app = True.** The master builds the app once: settings are validated, the key file
  is read and the data keys are unwrapped before any worker exists, so a wrong key or a missing
  ``WELLBEING_REDIS_URL`` stops the service at start with one line instead of a crash loop of
  workers; the workers share the loaded code (copy-on-write) and start in milliseconds. The
  price: ``kill -HUP`` does not load new code -- restart the service after an upgrade.
* **Database connections are never shared across fork.** ``create_app`` opens the engine and
  reads the data keys through it, so the master holds a pooled PostgreSQL connection.
  ``when_ready`` closes the master's pool before the first fork, and ``post_fork`` drops
  (without closing: the socket belongs to the parent) whatever pool a worker inherited, so each
  worker opens its own connections. The Redis client of the login throttles notices the fork
  itself (redis-py checks the pid) and reconnects.
* **Timeouts.** A roster or screening import is one request and one transaction; a large
  district's file takes tens of seconds, so a worker is given ``GUNICORN_TIMEOUT`` (120 s)
  before it is killed, and ``GUNICORN_GRACEFUL_TIMEOUT`` (60 s) to finish its requests on a
  restart (systemd's ``TimeoutStopSec`` is longer than that).
* **Access log with the least data.** Method, path without the query string (search terms are
  names of children), status, size and duration; no client address (the audit trail keeps who
  did what), no referrer (it carries query strings), no user agent.
* **Forwarded headers are the app's business.** ``WELLBEING_TRUSTED_PROXIES`` decides whether
  ``X-Forwarded-For``/``-Proto`` are believed (werkzeug's ProxyFix); gunicorn is told to trust
  no one, so there is one rule, not two.
"""

from __future__ import annotations

import os
from typing import Any


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise SystemExit(f"{name} must be at least 1, got {value}")
    return value


# --------------------------------------------------------------------------- serving

# Behind the reverse proxy (HTTPS ends there): listen on loopback, or a unix socket such as
# "unix:/run/wellbeing/gunicorn.sock".
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
# Sync workers: each request is a short database transaction; on 2 cores, 2 workers (more when
# requests wait on the database rather than the CPU).
workers = _int("GUNICORN_WORKERS", 2)
worker_class = "sync"
timeout = _int("GUNICORN_TIMEOUT", 120)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 60)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then (jitter: not all at once) so that slow leaks cannot build up.
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 500)
preload_app = True
forwarded_allow_ips = ""  # WELLBEING_TRUSTED_PROXIES decides (see above)
proc_name = "wellbeing"

# --------------------------------------------------------------------------- logging

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")  # "-": stdout, i.e. the journal
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# %(U)s is the path without the query string; %(M)s the duration in milliseconds.
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


# --------------------------------------------------------------------------- fork safety


def _databases(server: Any) -> list[Any]:
    """The app's ``Database`` objects, when the app was preloaded in this process."""
    app = getattr(server.app, "callable", None)
    extensions = getattr(app, "extensions", None) or {}
    db = extensions.get("wellbeing.db")
    return [db] if db is not None else []


def when_ready(server: Any) -> None:
    """In the master, after the app is loaded and before the first fork: close its pool."""
    for db in _databases(server):
        db.engine.dispose()


def post_fork(server: Any, worker: Any) -> None:
    """In each new worker: forget inherited connections without closing the parent's sockets."""
    for db in _databases(server):
        db.engine.dispose(close=False)
