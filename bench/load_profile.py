"""Where a page (by default the student record) spends its time: the app built in this process
(same database and settings as the served one), a user signed in through Flask's test client,
then ``requests`` GETs of the page under cProfile (statements counted); the top functions by own
time, by cumulative time, and the app's own code by cumulative time. The server-side code
only: no HTTP server, no network."""

from __future__ import annotations

import cProfile
import io
import pstats
import re
import time
from pathlib import Path
from typing import Any

import pyotp
from sqlalchemy import event

from .load_world import PASSWORD, TOTP_SECRET, world_settings

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
APP_CODE = re.escape(str(Path(__file__).resolve().parent.parent)) + "/(wellbeing|templates)/"


def _token(client: Any, path: str) -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    if match is None:
        raise RuntimeError(f"no CSRF token on {path}")
    return match.group(1)


def _sign_in(client: Any, username: str) -> None:
    answer = client.post("/login", data={"username": username, "password": PASSWORD,
                                         "csrf_token": _token(client, "/login")})  # fmt: skip
    if answer.status_code != 302:
        raise RuntimeError(f"profile: sign-in of {username} answered {answer.status_code}")
    totp = pyotp.TOTP(TOTP_SECRET)
    for attempt in range(4):  # the load signed this user in moments ago: the next step's code
        if attempt == 2:
            time.sleep(totp.interval - time.time() % totp.interval + 0.5)
        code = totp.at(time.time() + totp.interval * (attempt % 2))
        token = _token(client, "/login/totp")
        answer = client.post("/login/totp", data={"code": code, "csrf_token": token})
        if answer.status_code == 302:
            return
    raise RuntimeError(f"profile: the TOTP step of {username} was refused")


def _top(stats: pstats.Stats, key: str, count: int, only: str = ".") -> list[str]:
    stream = io.StringIO()
    stats.stream = stream  # type: ignore[attr-defined]  # pstats writes its table there
    stats.sort_stats(key).print_stats(only, count)
    lines = stream.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), 0)
    return [line.rstrip() for line in lines[start:] if line.strip()]


def profile_page(url: str, key_file: Path, directory: Path, user: dict[str, str], page: str,
                 paths: list[str], requests: int, top: int = 25) -> dict[str, Any]:  # fmt: skip
    from wellbeing import create_app

    settings = world_settings(url, key_file, audit_checkpoint_dir=str(directory / "checkpoints"))
    app = create_app(settings)
    client = app.test_client()
    _sign_in(client, user["username"])
    for path in paths[:5]:  # warm caches (templates, compiled queries)
        client.get(path)
    db = app.extensions["wellbeing.db"]
    statements = [0]

    def count(*_args: Any) -> None:
        statements[0] += 1

    event.listen(db.engine, "before_cursor_execute", count)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    statuses = [client.get(paths[i % len(paths)]).status_code for i in range(requests)]
    profiler.disable()
    elapsed = time.perf_counter() - started
    event.remove(db.engine, "before_cursor_execute", count)
    db.dispose()
    stats = pstats.Stats(profiler)
    return {
        "page": page, "user": user["username"], "requests": requests,
        "ok": statuses.count(200), "ms_per_request_profiled": round(elapsed / requests * 1000, 1),
        "sql_statements_per_request": round(statements[0] / requests, 1),
        "top": ["by own time:", *_top(stats, "tottime", top), "by cumulative time:",
                *_top(stats, "cumulative", top), "the app's own code by cumulative time:",
                *_top(stats, "cumulative", top, APP_CODE)],
    }  # fmt: skip
