"""Production settings: Secure cookies and HSTS behind a trusted TLS proxy, X-Forwarded-* ignored
unless proxies are configured, absolute links from WELLBEING_BASE_URL (never the Host header),
Redis required for several workers, and the demo still usable over plain http."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import flask
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from wellbeing import create_app
from wellbeing.audit.models import AuditEntry
from wellbeing.config import ConfigError, load_settings
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role

from ..auth.helpers import client_for, cookie_of, password_login
from ..conftest import csrf_from, login
from ..factories import make_user
from ..screening.helpers import gad, open_campaign, phq, school_with_students
from .production import BASE_URL, production_app

WELLBEING = Path(__file__).resolve().parents[2] / "wellbeing"
SPOOFED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example",
           "Referer": "https://evil.example/"}  # fmt: skip


def _spoof_host(browser) -> None:  # type: ignore[no-untyped-def]
    """Carry the signed-in session (with its CSRF secret) to requests sent as ``Host:
    evil.example``, as a browser would when an attacker's name points at the server."""
    browser.csrf_token()
    browser.set_cookie("wellbeing_session", cookie_of(browser), domain="evil.example")


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({}, "WELLBEING_BASE_URL is required in production"),
        ({"WELLBEING_BASE_URL": "http://wellbeing.example.edu.cn"}, "WELLBEING_BASE_URL must start with https://"),
        ({"WELLBEING_BASE_URL": "https://x.cn/?a=1"}, "WELLBEING_BASE_URL must be"),
        ({"WELLBEING_ENV": "staging"}, "WELLBEING_ENV must be one of production, development"),
        ({"WELLBEING_ENV": "development", "WELLBEING_TRUSTED_PROXIES": "two"}, "WELLBEING_TRUSTED_PROXIES"),
        ({"WELLBEING_ENV": "development", "WELLBEING_TRUSTED_PROXIES": "9"}, "WELLBEING_TRUSTED_PROXIES"),
        ({"WELLBEING_ENV": "development", "WELLBEING_MAX_UPLOAD_MB": "0"}, "WELLBEING_MAX_UPLOAD_MB"),
    ],
)  # fmt: skip
def test_bad_production_settings_stop_with_one_line(environ, variable) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ)
    assert variable in str(caught.value) and "\n" not in str(caught.value)


def test_production_is_the_default_and_turns_on_secure_cookies() -> None:
    settings = load_settings(environ={"WELLBEING_BASE_URL": BASE_URL})
    assert settings.production and settings.cookies_secure and settings.trusted_proxies == 0
    development = load_settings(environ={"WELLBEING_ENV": "development"})
    assert not development.cookies_secure and development.base_url == "http://127.0.0.1:5000"


def test_gunicorn_create_app_refuses_production_without_redis(env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`gunicorn 'wellbeing:create_app()'` reads the environment: several workers may run."""
    monkeypatch.delenv("WELLBEING_ENV")
    monkeypatch.setenv("WELLBEING_BASE_URL", BASE_URL)
    monkeypatch.setenv("WELLBEING_DATABASE_URL", env.settings.database_url)
    monkeypatch.setenv("WELLBEING_KEY_FILE", str(env.key_file))
    monkeypatch.setenv("WELLBEING_SECRET_KEY", "s" * 48)
    monkeypatch.delenv("WELLBEING_REDIS_URL", raising=False)
    with pytest.raises(ConfigError, match="WELLBEING_REDIS_URL is required in production"):
        create_app()
    monkeypatch.setenv("WELLBEING_SINGLE_PROCESS", "true")
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    app.extensions["wellbeing.db"].dispose()


def test_wellbeing_run_is_production_and_one_process(env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from wellbeing.cli import main

    served: list[flask.Flask] = []
    monkeypatch.setattr(flask.Flask, "run", lambda app, **_kw: served.append(app))
    monkeypatch.delenv("WELLBEING_ENV")
    environ = {"WELLBEING_DATABASE_URL": env.settings.database_url,
               "WELLBEING_KEY_FILE": str(env.key_file), "WELLBEING_SECRET_KEY": "x" * 48}  # fmt: skip
    refused = CliRunner().invoke(main, ["run"], env=environ)
    assert refused.exit_code == 1 and "WELLBEING_BASE_URL is required" in refused.output
    ok = CliRunner().invoke(main, ["run"], env={**environ, "WELLBEING_BASE_URL": BASE_URL})
    assert ok.exit_code == 0, ok.output
    settings = served[0].extensions["wellbeing.settings"]
    assert settings.production and served[0].config["SESSION_COOKIE_SECURE"] is True
    served[0].extensions["wellbeing.db"].dispose()


# --------------------------------------------------------------------------- proxies


def _failed_login_ip(db_session) -> str | None:  # type: ignore[no-untyped-def]
    entry = db_session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == AuditAction.LOGIN_FAILED)
        .order_by(AuditEntry.id.desc())
    ).first()
    return entry.ip


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9",
             "Referer": "https://localhost/login"}  # fmt: skip


def test_behind_a_trusted_proxy_https_gets_hsts_and_secure_cookies(env, db_session) -> None:  # type: ignore[no-untyped-def]
    browser = client_for(production_app(env, trusted_proxies=1), ip="10.0.0.2")
    page = browser.get("/login", base_url="http://localhost", headers=FORWARDED)
    assert "max-age=" in page.headers["Strict-Transport-Security"]
    cookie = next(c for c in page.headers.getlist("Set-Cookie") if "wellbeing_session=" in c)
    assert "; Secure" in cookie and "; HttpOnly" in cookie
    password_login(browser, "nobody", "wrong", base_url="http://localhost", headers=FORWARDED)
    assert _failed_login_ip(db_session) == "203.0.113.9"  # throttles and audit see the client


def test_without_trusted_proxies_forwarded_headers_are_ignored(env, db_session) -> None:  # type: ignore[no-untyped-def]
    browser = client_for(production_app(env), ip="10.0.0.2")
    page = browser.get("/login", base_url="http://localhost", headers=FORWARDED)
    assert "Strict-Transport-Security" not in page.headers
    password_login(browser, "nobody", "wrong", base_url="http://localhost", headers=FORWARDED)
    assert _failed_login_ip(db_session) == "10.0.0.2"


def test_trusted_proxies_count_only_their_own_hops(env, db_session) -> None:  # type: ignore[no-untyped-def]
    """A client's own X-Forwarded-For entry in front of the proxy's is not believed."""
    browser = client_for(production_app(env, trusted_proxies=1), ip="10.0.0.2")
    forged = {**FORWARDED, "X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
    password_login(browser, "nobody", "wrong", base_url="http://localhost", headers=forged)
    assert _failed_login_ip(db_session) == "203.0.113.9"


# --------------------------------------------------------------------------- absolute links


def test_fhir_export_links_come_from_the_base_url(env, db_session) -> None:  # type: ignore[no-untyped-def]
    from wellbeing.screening.services import record_answers

    school, _k, students = school_with_students(db_session, 1)
    campaign = open_campaign(db_session, [school])
    record_answers(db_session, None, campaign, students[0], {
        "phq9": {f"phq9_{i + 1}": v for i, v in enumerate(phq(4))},
    })  # fmt: skip
    browser = client_for(production_app(env, trusted_proxies=1))
    login(browser, make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school))
    _spoof_host(browser)
    export = browser.get(f"/students/{students[0].id}/screening/fhir", headers=SPOOFED)
    assert export.status_code == 200
    bundle = json.loads(export.get_data(as_text=True))
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert urls and all(u.startswith(f"{BASE_URL}/fhir/") for u in urls)
    assert "evil.example" not in export.get_data(as_text=True)


def test_calendar_feed_link_comes_from_the_base_url(env, db_session) -> None:  # type: ignore[no-untyped-def]
    browser = client_for(production_app(env, trusted_proxies=1))
    school, _k, _s = school_with_students(db_session, 1)
    login(browser, make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school))
    _spoof_host(browser)
    page = browser.post("/agenda/calendar-token", headers=SPOOFED)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f"{BASE_URL}/agenda/" in html and "evil.example" not in html


def test_alert_emails_link_to_the_base_url(env, db_session) -> None:  # type: ignore[no-untyped-def]
    """A critical screening answer uploaded with a spoofed Host: the alert e-mails' links."""
    import io

    from wellbeing.notify.models import OutboxMessage

    school, _k, students = school_with_students(db_session, 1)
    campaign = open_campaign(db_session, [school])
    teacher = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    leader = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=school)
    teacher.email, leader.email = "psych@school.example", "leader@school.example"
    db_session.flush()
    browser = client_for(production_app(env, trusted_proxies=1))
    login(browser, teacher)
    _spoof_host(browser)
    header = ",".join(["student_number", *(f"phq9_{n}" for n in range(1, 10)),
                       *(f"gad7_{n}" for n in range(1, 8))])  # fmt: skip
    row = ",".join(map(str, [students[0].student_number, *phq(3, item9=2), *gad(0)]))
    before = set(db_session.scalars(select(OutboxMessage.id)))
    response = browser.post(
        f"/screening/campaigns/{campaign.id}/import", headers=SPOOFED,
        data={"file": (io.BytesIO(f"{header}\n{row}\n".encode()), "r.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 200, response.get_data(as_text=True)
    bodies = [m.body for m in db_session.scalars(select(OutboxMessage)) if m.id not in before]
    links = [url for body in bodies for url in re.findall(r"https?://\S+", body)]
    assert links, "the critical answer sent no e-mail with a link"
    assert all(url.startswith(f"{BASE_URL}/") for url in links)


def test_no_absolute_url_is_built_from_the_request() -> None:
    """The class, not the instance: nothing in the app reads the Host to build a link."""
    pattern = re.compile(r"_external\s*=\s*True|\burl_root\b|\bhost_url\b|request\.host\b")
    offenders = [
        f"{path.relative_to(WELLBEING)}:{n}"
        for path in WELLBEING.rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert offenders == []


# --------------------------------------------------------------------------- the demo


def test_demo_serves_plain_http_on_localhost(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`wellbeing demo` with nothing set: development, so a browser on http://127.0.0.1 signs in
    (a Secure cookie would never come back over http)."""
    from wellbeing.cli import main
    from wellbeing.core import crypto
    from wellbeing.demo import DEMO_PASSWORD

    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items()
                                        if not k.startswith("WELLBEING_")})  # fmt: skip
    key = tmp_path / "key.json"
    crypto.write_key_file(key, crypto.generate_key_material())
    os.environ.update({
        "WELLBEING_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}", "WELLBEING_KEY_FILE": str(key),
        "WELLBEING_ARGON2_TIME_COST": "1", "WELLBEING_ARGON2_MEMORY_KIB": "1024",
        "WELLBEING_SCHEDULER_IN_PROCESS": "false", "WELLBEING_SECRET_KEY": "d" * 48,
    })  # fmt: skip
    served: list[flask.Flask] = []
    monkeypatch.setattr(flask.Flask, "run", lambda app, **_kw: served.append(app))
    try:
        result = CliRunner().invoke(main, ["demo"])
        assert result.exit_code == 0, result.output
        app = served[0]
        app.test_client_class = flask.testing.FlaskClient  # a plain browser: real CSRF token
        browser = app.test_client()
        form = browser.get("/login", base_url="http://127.0.0.1:5000").get_data(as_text=True)
        signed_in = browser.post(
            "/login", base_url="http://127.0.0.1:5000",
            data={"username": "junior.psych", "password": DEMO_PASSWORD, "csrf_token": csrf_from(form)},
        )  # fmt: skip
        assert signed_in.status_code == 302
        cookie = next(
            c for c in signed_in.headers.getlist("Set-Cookie") if "wellbeing_session=" in c
        )
        assert "; Secure" not in cookie
        home = browser.get("/", base_url="http://127.0.0.1:5000")
        assert home.status_code == 200 and "Strict-Transport-Security" not in home.headers
    finally:
        for app in served:
            app.extensions["wellbeing.db"].dispose()
        crypto.install_keyring(None)
