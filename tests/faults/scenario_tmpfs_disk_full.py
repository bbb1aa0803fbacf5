"""Scripted scenario (needs root): a roster import on a real full disk, a small tmpfs.

The test (test_disk_full.py) fills SQLite with ``PRAGMA max_page_count`` so it runs anywhere;
this script checks that a real ENOSPC behaves the same. It mounts an 8 MiB tmpfs, migrates a
database there, fills the disk to 300 KiB of free space, runs ``wellbeing roster import`` of
3,000 rows, compares every table's row count, frees the space and imports again.

    .venv/bin/python -m tests.faults.scenario_tmpfs_disk_full
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

os.environ.setdefault("WELLBEING_ENV", "development")

from wellbeing.core import crypto

from ..conftest import build_env
from ..factories import make_school
from .helpers import cli_env, wellbeing_argv, write_roster
from .test_import_kill import snapshot


def main() -> None:
    mount = Path(tempfile.mkdtemp(prefix="wellbeing-full-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], check=True)
    try:
        env = build_env("sqlite", mount / "db", "full")
        crypto.install_keyring(env.keyring)
        with env.db.session() as session:
            make_school(session, code="TMP")
        roster = write_roster(Path(tempfile.mkdtemp()) / "roster.csv", 3000)
        free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
        filler = mount / "filler"
        filler.write_bytes(b"\0" * (free - 300 * 1024))
        before = snapshot(env)
        argv = wellbeing_argv("roster", "import", str(roster), "--school", "TMP")
        done = subprocess.run(argv, env=cli_env(env), capture_output=True, text=True)
        print("full disk: exit", done.returncode, done.stderr.strip()[-300:])
        print("nothing written:", snapshot(env) == before)
        filler.unlink()
        again = subprocess.run(argv, env=cli_env(env), capture_output=True, text=True)
        print("space back: exit", again.returncode, "students:", snapshot(env)["student"])
        env.db.dispose()
    finally:
        subprocess.run(["umount", str(mount)], check=False)


if __name__ == "__main__":
    main()
