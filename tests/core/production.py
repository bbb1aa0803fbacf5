"""An app with production settings on the test database (tests run in development)."""

from __future__ import annotations

from flask import Flask

from wellbeing import create_app

from ..conftest import CsrfClient, Env

BASE_URL = "https://wellbeing.example.edu.cn"
PRODUCTION = {"env": "production", "base_url": BASE_URL, "single_process": True}


def production_app(env: Env, **overrides: object) -> Flask:
    app = create_app(env.settings.with_overrides(**{**PRODUCTION, **overrides}), db=env.db)
    app.test_client_class = CsrfClient
    return app
