"""A district deployment, end to end (issue 17 item 1): PostgreSQL, ``wellbeing init``, gunicorn
with 2 workers from ``deploy/gunicorn.conf.py`` in production mode (Redis for the login
throttles, Secure cookies behind a trusted proxy), and the scheduler as its own process.

Over HTTP: the administrator created by ``init`` signs in and enrols a second factor (TOTP
computed here), imports the roster; the psychology teacher imports a screening file that
raises two alerts and acknowledges one. The scheduler escalates the other: the escalation scan
runs every minute and the red ladder reaches the school leader after 60 minutes, so the test
does not wait an hour -- a standby scheduler runs with its clock 61 minutes ahead
(``time_machine`` in that process only), takes over when the first one is stopped, catches up
the missed scan at once (the job store keeps its next run time) and climbs the ladder. The
school leader then finds exactly that alert in their inbox.

Every process is started in its own process group and killed at the end, pass or fail.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from http.client import HTTPConnection
from http.cookies import SimpleCookie
from pathlib import Path

import pyotp
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from wellbeing.cli import main
from wellbeing.keys.restore_drill import libpq_target

from ..conftest import PG_ENV, _postgres_url
from ..factories import PASSWORD

NEEDS_POSTGRES = pytest.mark.skipif(
    not os.environ.get(PG_ENV),
    reason=f"the gunicorn deployment test needs PostgreSQL: set {PG_ENV} (CI sets it and "
    "requires it)",
)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "gunicorn.conf.py"
HOST = "wellbeing.test"
BASE_URL = f"https://{HOST}"
PHQ = [f"phq9_{n}" for n in range(1, 10)]
GAD = [f"gad7_{n}" for n in range(1, 8)]
# The standby scheduler lives this much later: past the red ladder's school-leader rung (60 min).
SCHEDULER_AHEAD_MINUTES = 61


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    if found.exists():
        return str(found)
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (required with {PG_ENV})")
    return path


class Processes:
    """Processes started in their own groups; :meth:`stop_all` leaves nothing behind."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self, name: str, argv: list[str], env: dict[str, str], cwd: Path
    ) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        log.close()
        self.started.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 15) -> int:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        # Workers or helpers left in the group (there should be none) go too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.returncode

    def stop_all(self) -> None:
        for _name, proc in reversed(self.started):
            self.stop(proc)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = Processes(logs)
    try:
        yield procs
    finally:
        procs.stop_all()


class Browser:
    """A browser behind the HTTPS proxy: sends the proxy's headers, keeps Secure cookies."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str | None = None) -> tuple[int, dict[str, str], str]:  # fmt: skip
        headers = {
            "Host": HOST,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.7",
            "Referer": BASE_URL + path,  # same-origin referrer: the CSRF check over HTTPS
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if content_type:
            headers["Content-Type"] = content_type
        conn = HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", errors="replace")
            for raw in response.headers.get_all("Set-Cookie") or []:
                assert "Secure" in raw, f"a cookie without Secure in production: {raw}"
                cookie = SimpleCookie()
                cookie.load(raw)
                for key, morsel in cookie.items():
                    if morsel["max-age"] == "0" or not morsel.value:
                        self.cookies.pop(key, None)
                    else:
                        self.cookies[key] = morsel.value
            return response.status, dict(response.headers.items()), text
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, str]:
        status, _headers, text = self.request("GET", path)
        return status, text

    def post(self, path: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]] | None = None,
             csrf_from: str | None = None) -> tuple[int, dict[str, str], str]:  # fmt: skip
        _status, page = self.get(csrf_from or path)
        fields = {**fields, "csrf_token": _csrf(page)}
        if files:
            boundary = uuid.uuid4().hex
            out = io.BytesIO()
            for key, value in fields.items():
                out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                          f"{value}\r\n".encode())  # fmt: skip
            for key, (filename, data) in files.items():
                out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; '
                          f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode())  # fmt: skip
                out.write(data + b"\r\n")
            out.write(f"--{boundary}--\r\n".encode())
            return self.request(
                "POST", path, out.getvalue(), f"multipart/form-data; boundary={boundary}"
            )
        body = urllib.parse.urlencode(fields).encode()
        return self.request("POST", path, body, "application/x-www-form-urlencoded")

    def sign_in(self, username: str, password: str = PASSWORD) -> str:
        status, headers, _text = self.post("/login", {"username": username, "password": password})
        assert status == 302, f"sign-in of {username} failed ({status})"
        return headers["Location"]


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def _alert_ids(html: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'href="/alerts/([0-9a-f-]{36})"', html)))


def _wait_until_serving(
    browser: Browser, server: subprocess.Popen[bytes], procs: Processes
) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{procs.log('gunicorn')}")
        try:
            if browser.get("/login")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"gunicorn did not answer within 40 s:\n{procs.log('gunicorn')}")


def _wait_for(predicate, what: str, procs: Processes, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"{what} did not happen within {timeout:.0f} s:\n"
                f"--- scheduler-a\n{procs.log('scheduler-a')}\n--- scheduler-b\n{procs.log('scheduler-b')}")  # fmt: skip


def _stored_jobs(env: dict[str, str]) -> int:
    """Jobs in the scheduler's job store (APScheduler creates the table when it activates)."""
    engine = create_engine(env["WELLBEING_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("apscheduler_jobs"):
                return 0
            return int(conn.scalar(text("SELECT count(*) FROM apscheduler_jobs")) or 0)
    finally:
        engine.dispose()


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(main, list(args), env=env, input=stdin)
    assert result.exit_code == 0, f"wellbeing {' '.join(args)}: {result.output}"
    return result.output


STANDBY = (
    "import datetime as dt, sys, time_machine\n"
    "ahead = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=int(sys.argv[1]))\n"
    "time_machine.travel(ahead, tick=True).start()\n"
    "from wellbeing.cli import main\n"
    "main(['scheduler', 'run', '--poll-seconds', '0.5'])\n"
)


def test_init_migrates_and_creates_the_first_administrator_once(tmp_path: Path) -> None:
    """``wellbeing init`` on an empty database (SQLite here; PostgreSQL below): migrations, data
    keys, the district and one administrator, who must enrol a second factor; a second run
    creates nobody, and without --admin it says what to do."""
    key_file = tmp_path / "keys.json"
    env = {"WELLBEING_ENV": "development", "WELLBEING_KEY_FILE": str(key_file),
           "WELLBEING_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
           "WELLBEING_ARGON2_TIME_COST": "1", "WELLBEING_ARGON2_MEMORY_KIB": "1024"}  # fmt: skip
    _cli(env, "keys", "generate", str(key_file))
    first = _cli(env, "init")
    assert "data keys created: identity" in first
    assert "no administrator yet: run `wellbeing init --admin USERNAME`" in first
    weak = CliRunner().invoke(main, ["init", "--admin", "root", "--password-stdin"], env=env,
                              input="short\n")  # fmt: skip
    assert weak.exit_code == 1 and "error:" in weak.output  # the password policy holds
    made = _cli(env, "init", "--admin", "root", "--password-stdin", stdin=PASSWORD + "\n")
    assert "administrator root created" in made and "none (already present)" in made
    assert "none created" in _cli(env, "init", "--admin", "root2", "--password-stdin",
                                  stdin=PASSWORD + "\n")  # fmt: skip


@NEEDS_POSTGRES
def test_district_deployment_under_gunicorn(tmp_path: Path, processes: Processes) -> None:
    started = time.monotonic()
    redis_port, web_port = _free_port(), _free_port()
    key_file = tmp_path / "keys" / "keys.json"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("WELLBEING_", "GUNICORN_"))},
        "WELLBEING_ENV": "production",
        "WELLBEING_BASE_URL": BASE_URL,
        "WELLBEING_DATABASE_URL": _postgres_url(
            f"{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}_gunicorn"
        ),
        "WELLBEING_KEY_FILE": str(key_file),
        "WELLBEING_SECRET_KEY": "s" * 48,
        "WELLBEING_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "WELLBEING_TRUSTED_PROXIES": "1",
        "WELLBEING_LOCALE": "en",
        "WELLBEING_AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "WELLBEING_ARGON2_TIME_COST": "1",
        "WELLBEING_ARGON2_MEMORY_KIB": "1024",
        "GUNICORN_BIND": f"127.0.0.1:{web_port}",
        "GUNICORN_WORKERS": "2",
    }
    processes.start("redis", [_bin("redis-server"), "--port", str(redis_port), "--bind",
                              "127.0.0.1", "--save", "", "--appendonly", "no"], env, tmp_path)  # fmt: skip

    # ---- the operator: key file, init (migrations + first administrator), school, staff
    key_file.parent.mkdir()
    _cli(env, "keys", "generate", str(key_file))
    out = _cli(env, "init", "--admin", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert "database ready" in out and "administrator admin created" in out
    again = _cli(env, "init", "--admin", "other", "--password-stdin", stdin=PASSWORD + "\n")
    assert "none created" in again  # idempotent: the first administrator only
    school_id = _cli(env, "schools", "add", "--code", "S1", "--name", "First School").split()[-1]
    for username, role in (("teacher", "psych_teacher"), ("leader", "school_leader")):
        _cli(env, "users", "create", "--username", username, "--role", role, "--school", "S1",
             "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    campaign_id = _cli(env, "screening", "campaigns", "add", "--name", "Autumn", "--instruments",
                       "phq9,gad7", "--school", "S1", "--opens", "2000-01-01",
                       "--closes", "2999-12-31").split()[-1]  # fmt: skip

    # ---- the services: gunicorn (2 workers), the scheduler, a standby living an hour ahead
    server = processes.start(
        "gunicorn", [_bin("gunicorn"), "-c", str(CONF), "wellbeing:create_app()"], env, tmp_path
    )
    scheduler_a = processes.start(
        "scheduler-a",
        [_bin("wellbeing"), "scheduler", "run", "--poll-seconds", "0.5"],
        env,
        tmp_path,
    )
    browser = Browser(web_port)
    _wait_until_serving(browser, server, processes)
    assert processes.log("gunicorn").count("Booting worker") == 2, "gunicorn should run 2 workers"

    # ---- the administrator: password, forced TOTP enrolment, roster import
    assert browser.sign_in("admin").endswith("/account/mfa/enrol")
    _status, page = browser.get("/account/mfa/enrol")
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page)
    assert secret, "the enrolment page shows no secret"
    status, _h, page = browser.post(
        "/account/mfa/enrol", {"code": pyotp.TOTP(secret.group(1)).now()}
    )
    assert status == 200 and page.count("<code>") >= 10  # the recovery codes, shown once
    roster = "学号,姓名,性别,出生日期,年级,班级\nK1,张小明,男,2012-03-05,7,1班\nK2,李华,女,2012-07-09,7,1班\nK3,王芳,女,2012-01-11,7,1班\n"
    status, _h, page = browser.post("/students/import", {"school": school_id},
                                    files={"file": ("roster.csv", roster.encode())})  # fmt: skip
    assert status == 200, page[:2000]

    # ---- the psychology teacher: screening import (two critical answers), acknowledge one
    teacher = Browser(web_port)
    teacher.sign_in("teacher")
    rows = [["K1", *([0] * 8), 2, *([0] * 7)], ["K2", *([0] * 8), 1, *([0] * 7)],
            ["K3", *([0] * 16)]]  # fmt: skip
    screening = "\n".join([",".join(["student_number", *PHQ, *GAD]),
                           *(",".join(map(str, r)) for r in rows)]) + "\n"  # fmt: skip
    path = f"/screening/campaigns/{campaign_id}/import"
    status, _h, page = teacher.post(path, {}, files={"file": ("results.csv", screening.encode())})
    assert status == 200, page[:2000]
    _status, inbox = teacher.get("/alerts?state=open")  # a query string: never in the log
    alerts = _alert_ids(inbox)
    assert len(alerts) >= 2, inbox[:3000]
    acknowledged, others = alerts[0], alerts[1:]
    ack = f"/alerts/{acknowledged}/acknowledge"
    status, _h, _page = teacher.post(ack, {}, csrf_from=f"/alerts/{acknowledged}")
    assert status == 302
    assert 'data-testid="alert-state">Acknowledged<' in teacher.get(f"/alerts/{acknowledged}")[1]
    leader = Browser(web_port)
    leader.sign_in("leader")
    assert _alert_ids(leader.get("/alerts")[1]) == []  # nothing has climbed to the leader yet

    # ---- the scheduler: the standby (an hour later) takes over and escalates the other alert
    _wait_for(lambda: _stored_jobs(env) > 0, "scheduler A storing its jobs", processes)
    processes.start("scheduler-b", [sys.executable, "-c", STANDBY, str(SCHEDULER_AHEAD_MINUTES)],
                    env, tmp_path)  # fmt: skip
    time.sleep(1.0)  # B is waiting for the lock A holds
    assert processes.stop(scheduler_a) == 0, processes.log("scheduler-a")
    _wait_for(lambda: set(_alert_ids(leader.get("/alerts")[1])) >= set(others),
              "the escalation of the unacknowledged alert to the school leader", processes)  # fmt: skip
    assert acknowledged not in _alert_ids(leader.get("/alerts")[1])

    # ---- nothing went wrong in the workers
    assert server.poll() is None
    log = processes.log("gunicorn")
    assert "Traceback" not in log and "[ERROR]" not in log, log[-4000:]
    requests = [line.split('"')[1] for line in log.splitlines() if line.count('"') == 2]
    assert "GET /alerts" in requests and "POST /students/import" in requests
    assert not [r for r in requests if "?" in r or "state=open" in r]  # paths only

    # ---- the backup of this district passes the restore drill (pg_dump + the key file)
    uri, pg_environ = libpq_target(make_url(env["WELLBEING_DATABASE_URL"]))
    dump = tmp_path / "wellbeing.dump"
    subprocess.run([_bin("pg_dump"), "--format=custom", "--file", str(dump), uri],
                   env=pg_environ, check=True, capture_output=True)  # fmt: skip
    drill = _cli(env, "backup", "restore-drill", str(dump), "--sample", "0")
    assert "PASS" in drill and re.search(r"ok   decrypt: [1-9]\d* values", drill), drill
    assert re.search(r"ok   audit verify: [1-9]\d* sealed entries", drill), drill
    assert time.monotonic() - started < 90
