"""Fault: PostgreSQL goes away under load and comes back (issue 17 item 5).

Restarting the machine's shared PostgreSQL would break other tests, so the app reaches its
database through :class:`~tests.faults.proxy.CuttableProxy`: cutting it kills every connection
(pooled ones included) and refuses new ones, as a server that is down does; restoring it is
the server being back. While signed-in users keep asking for pages, every answer during the
cut is a 503 error page in the reader's language with ``Retry-After`` (never a 500), and after
the cut every answer is a 200 again from the same app object, its pool included: no restart.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from wellbeing import create_app
from wellbeing.core.authz import Role
from wellbeing.db import get_session

from ..conftest import PG_ENV, CsrfClient, Env, login
from ..factories import make_school, make_user
from .proxy import CuttableProxy

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get(PG_ENV),
        reason=f"the PostgreSQL outage scenario needs PostgreSQL: set {PG_ENV} (CI sets it and "
        "requires it)",
    ),
]

PAGES = ("/", "/students/?q=王")
ROUNDS = 6


def ask(clients: list[CsrfClient], statuses: Counter[int], bodies: list[str]) -> None:
    for client in clients:
        for page in PAGES:
            response = client.get(page)
            statuses[response.status_code] += 1
            if response.status_code != 200:
                bodies.append(response.get_data(as_text=True))
                assert response.headers.get("Retry-After"), response.status_code


def _drop_mid_request(proxy: CuttableProxy) -> str:
    session = get_session()
    session.execute(text("SELECT 1"))
    proxy.cut()
    proxy.restore()
    session.execute(text("SELECT 1"))
    return "not reached"


@pytest.mark.parametrize("fresh_env", ["postgresql"], indirect=True)
def test_postgres_cut_gives_503_then_recovers_without_restart(fresh_env: Env) -> None:
    url = make_url(fresh_env.settings.database_url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        through_proxy = url.set(host="127.0.0.1", port=proxy.port)
        settings = fresh_env.settings.with_overrides(
            database_url=through_proxy.render_as_string(hide_password=False)
        )
        with fresh_env.db.session() as session:
            school = make_school(session)
            users = [make_user(session, fresh_env.settings, role, school=school)
                     for role in (Role.PSYCH_TEACHER, Role.SCHOOL_LEADER)]  # fmt: skip
        app = create_app(settings)
        app.test_client_class = CsrfClient
        app.add_url_rule("/_faults/drop", "faults_drop", lambda: _drop_mid_request(proxy))
        clients: list[CsrfClient] = []
        for user in users:
            client = app.test_client()
            login(client, user)
            clients.append(client)  # type: ignore[arg-type]

        before: Counter[int] = Counter()
        ask(clients, before, [])
        assert set(before) == {200}, before

        proxy.cut()
        during: Counter[int] = Counter()
        pages: list[str] = []
        for _ in range(ROUNDS):
            ask(clients, during, pages)
            time.sleep(0.3)
        # The reader's language on the error page, decided without the database.
        with clients[0].session_transaction() as sess:
            sess["locale"] = "zh_CN"
        zh = clients[0].get("/")
        proxy.restore()

        after: Counter[int] = Counter()
        for _ in range(ROUNDS):
            ask(clients, after, [])
        print("before", dict(before), "during", dict(during), "after", dict(after),
              "proxy connections", proxy.connections)  # fmt: skip
        assert set(during) == {503}, during
        assert all("temporarily unavailable" in page for page in pages)
        assert zh.status_code == 503 and "服务暂时不可用" in zh.get_data(as_text=True)
        assert set(after) == {200}, after

        # A blip nobody saw: every pooled connection dies and the server is back before the
        # next request. The pool must not hand out a dead connection (that would be an error
        # page although the database is up).
        proxy.cut()
        proxy.restore()
        blip: Counter[int] = Counter()
        ask(clients, blip, [])
        print("after a blip", dict(blip))
        assert set(blip) == {200}, blip

        # The line drops under a request that already holds its connection, and the server is
        # back at once: that request cannot be saved, but it is a 503 (try again), not a 500.
        dropped = clients[0].get("/_faults/drop")
        assert dropped.status_code == 503 and dropped.headers["Retry-After"]
        recovered: Counter[int] = Counter()
        ask(clients, recovered, [])
        assert set(recovered) == {200}, recovered
    finally:
        proxy.close()
