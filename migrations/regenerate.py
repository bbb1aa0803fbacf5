"""Regenerate ``0001_initial_schema.py`` from the models (pre-release only).

Until the first release the initial migration is rebuilt from the typed models so that the
schema stays one reviewed file; hand-written migrations (triggers, data moves) chain after it.
After the first release this script must not be used: every change gets its own revision.

Usage: ``.venv/bin/python migrations/regenerate.py`` (or ``make migration``).
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

HERE = Path(__file__).resolve().parent
INITIAL = HERE / "versions" / "0001_initial_schema.py"


def main() -> int:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/regen.db"
        config.set_main_option("sqlalchemy.url", url)
        saved = INITIAL.read_text(encoding="utf-8") if INITIAL.exists() else None
        later = [p for p in (HERE / "versions").glob("*.py") if p != INITIAL]
        parked = {p: p.read_text(encoding="utf-8") for p in later}
        for path in later:
            path.unlink()  # later revisions chain after 0001; park them while it is rebuilt
        try:
            if INITIAL.exists():
                INITIAL.unlink()
            command.revision(config, message="initial schema", autogenerate=True, rev_id="0001")
            made = next((HERE / "versions").glob("0001_*.py"))
            made.rename(INITIAL)
        except Exception:
            if saved is not None:
                INITIAL.write_text(saved, encoding="utf-8")
            raise
        finally:
            for path, body in parked.items():
                path.write_text(body, encoding="utf-8")
    text = INITIAL.read_text(encoding="utf-8")
    text = re.sub(r"Create Date: .*\n", "", text)
    INITIAL.write_text(text, encoding="utf-8")
    ScriptDirectory.from_config(config)  # parses every revision: fails loudly on a broken chain
    print(f"rewrote {INITIAL.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
