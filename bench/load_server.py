"""The served app of bench/load_bench.py: gunicorn with ``deploy/gunicorn.conf.py`` and the
scheduler, each in its own process group (stopped by its own pid, pass or fail), the workers'
memory read from /proc, the settings a district's service gets from its environment."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from . import load_client as lc

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    path = str(found) if found.exists() else shutil.which(name)
    if path is None:
        raise SystemExit(f"{name} is not installed: pip install -e '.[server]'")
    return path


class Server:
    """gunicorn (deploy/gunicorn.conf.py) and the scheduler, each in its own process group."""

    def __init__(self, env: dict[str, str], directory: Path, scheduler: bool) -> None:
        self.directory, self.env = directory, env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.port = int(env["GUNICORN_BIND"].rsplit(":", 1)[1])
        argv = [
            _bin("gunicorn"),
            "-c",
            str(ROOT / "deploy" / "gunicorn.conf.py"),
            "wellbeing:create_app()",
        ]
        self.gunicorn = self._start("gunicorn", argv)
        if scheduler:
            self._start("scheduler", [_bin("wellbeing"), "scheduler", "run"])

    def _start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with (self.directory / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(argv, env=self.env, cwd=self.directory, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        self.procs.append(proc)
        return proc

    async def ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.gunicorn.poll() is not None:
                raise SystemExit(f"gunicorn exited:\n{self.log('gunicorn')[-3000:]}")
            client = lc.Client("127.0.0.1", self.port)
            try:
                if (await client.request("GET", "/login")).status == 200:
                    return
            except lc.HttpError:
                pass
            finally:
                await client.close()
            await asyncio.sleep(0.3)
        raise SystemExit(f"gunicorn did not answer within {timeout:.0f} s")

    def workers(self) -> list[int]:
        path = Path(f"/proc/{self.gunicorn.pid}/task/{self.gunicorn.pid}/children")
        return sorted(int(p) for p in path.read_text().split()) if path.exists() else []

    def rss_mib(self) -> dict[str, float]:
        out = {}
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            kib = next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
            )
            out[str(pid)] = round(kib / 1024, 1)
        return out

    def log(self, name: str) -> str:
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def tracebacks(self) -> int:
        return sum(self.log(n).count("Traceback") for n in ("gunicorn", "scheduler"))

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)


def server_env(
    url: str, key_file: Path, directory: Path, workers: int, soak: bool
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WELLBEING_", "GUNICORN_"))}
    env.update({
        "WELLBEING_ENV": "development", "WELLBEING_DATABASE_URL": url,
        "WELLBEING_KEY_FILE": str(key_file), "WELLBEING_SECRET_KEY": "s" * 48,
        "WELLBEING_AUDIT_CHECKPOINT_DIR": str(directory / "checkpoints"),
        "WELLBEING_ARGON2_TIME_COST": "1", "WELLBEING_ARGON2_MEMORY_KIB": "1024",
        "GUNICORN_BIND": f"127.0.0.1:{_free_port()}", "GUNICORN_WORKERS": str(workers),
        "GUNICORN_ACCESS_LOG": str(directory / "access.log"),
        "PYTHONPATH": str(ROOT),
    })  # fmt: skip
    if soak:  # the same processes from start to end: a leak must show, not be recycled away
        env["GUNICORN_MAX_REQUESTS"] = str(10**9)
    return env
