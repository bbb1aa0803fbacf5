"""Shared pieces of the fault scenarios (issue 17 item 5): the environment of a ``wellbeing``
subprocess on a test database, process groups that are always cleaned up, a roster file big
enough for an import to take a few seconds, and row counts of the tables an import writes."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..conftest import TEST_OVERRIDES, Env

ROOT = Path(__file__).resolve().parents[2]


def cli_env(env: Env, **extra: str) -> dict[str, str]:
    """The process environment of ``python -m wellbeing.cli`` on ``env``'s database."""
    settings = env.settings
    base = {k: v for k, v in os.environ.items() if not k.startswith("WELLBEING_")}
    return {
        **base,
        "WELLBEING_ENV": "development",
        "WELLBEING_DATABASE_URL": settings.database_url,
        "WELLBEING_KEY_FILE": str(env.key_file),
        "WELLBEING_AUDIT_CHECKPOINT_DIR": str(settings.audit_checkpoint_dir),
        "WELLBEING_SECRET_KEY": str(TEST_OVERRIDES["secret_key"]),
        "WELLBEING_LOCALE": "en",
        "WELLBEING_ARGON2_TIME_COST": "1",
        "WELLBEING_ARGON2_MEMORY_KIB": "1024",
        **extra,
    }


def wellbeing_argv(*args: str) -> list[str]:
    return [sys.executable, "-c", "from wellbeing.cli import main; main()", *args]


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a process in a group of its own, output to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip


def kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


def write_roster(path: Path, rows: int, *, start: int = 0, classes: int = 20) -> Path:
    """A valid roster CSV of ``rows`` students (numbers F000000…), ``classes`` classes."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["学号", "姓名", "性别", "出生日期", "年级", "班级", "监护人电话"])
        for n in range(start, start + rows):
            grade = 7 + n % 3
            writer.writerow([f"F{n:06d}", f"学生{n}", "男" if n % 2 else "女", "2012-05-01",
                             grade, f"{grade}-{n % classes}", f"139{n:08d}"])  # fmt: skip
    return path


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)
