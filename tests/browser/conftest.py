"""End-to-end fixtures: a real HTTP server on a fresh migrated database, driven by Debian's
Chromium through Playwright's Python package (``playwright install`` is never used).

Fixtures:
- ``live_server``: a :class:`LiveServer` with ``.url`` (base URL), ``.env`` (the test
  :class:`~tests.conftest.Env`: settings, db, keyring) and ``.db`` (the Database). Create data
  with ``with live_server.db.session() as s: ...`` — it is committed, so the server sees it.
- ``browser_page``: a fresh Playwright ``Page`` (zh-CN locale, 1366×768) in its own context.
  Every page it loads is checked by the language guard (``language_guard.py``): a test whose
  zh_CN pages showed English text or a raw code fails at teardown, listing page and text.

Without Chromium the tests skip with the reason shown; with ``WELLBEING_REQUIRE_BROWSER=1``
(set by ``.ci/run``) a missing browser is a failure instead.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from wellbeing import create_app
from wellbeing.core import crypto

from ..conftest import Env, build_env
from . import language_guard

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium_or_skip() -> str:
    path = shutil.which("chromium")
    if path:
        return path
    message = "Debian's chromium is not installed (apt-get install chromium)"
    if os.environ.get("WELLBEING_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message}, and WELLBEING_REQUIRE_BROWSER=1 makes browser tests mandatory")
    pytest.skip(message)


@dataclass
class LiveServer:
    url: str
    env: Env

    @property
    def db(self):  # type: ignore[no-untyped-def]
        return self.env.db


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    # The production default language (zh_CN): the browser sees what a school office sees.
    environment = build_env("sqlite", tmp_path, "live", locale="zh_CN")
    crypto.install_keyring(environment.keyring)
    app = create_app(environment.settings, db=environment.db)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", environment)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        crypto.install_keyring(None)
        environment.db.dispose()


@pytest.fixture(scope="session")
def _browser() -> Iterator[object]:
    executable = _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def browser_page(_browser, request):  # type: ignore[no-untyped-def]
    """A fresh page; at teardown the language guard (tests/browser/language_guard.py) fails
    the test if a zh_CN user was shown English on any page it loaded."""
    context = _browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
    context.set_default_timeout(15_000)
    context.add_init_script(language_guard.COLLECT_JS)
    page = context.new_page()
    yield page
    try:
        call = getattr(request.node, "report_call", None)
        server = (
            request.getfixturevalue("live_server")
            if "live_server" in request.fixturenames
            else None
        )
        if call is not None and call.passed and server is not None:
            seen = [entry for p in context.pages for entry in p.evaluate(language_guard.READ_JS)]
            problems = language_guard.english_seen(seen, language_guard.database_values(server.db))
            if problems:
                pytest.fail(
                    "A zh_CN user was shown English (translate it, label the code, or mark "
                    'data with translate="no"):\n  ' + "\n  ".join(problems),
                    pytrace=False,
                )
    finally:
        context.close()


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
