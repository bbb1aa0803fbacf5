"""``wellbeing users reset-mfa``: an administrator removes a lost second factor."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from wellbeing.audit.models import AuditEntry
from wellbeing.auth.models import User, UserSession
from wellbeing.auth.services import start_session
from wellbeing.cli import main
from wellbeing.core.authz import Role

from ..factories import make_user
from .helpers import enable_totp

pytestmark = pytest.mark.slow


def _cli_env(env) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "WELLBEING_DATABASE_URL": env.settings.database_url,
        "WELLBEING_KEY_FILE": str(env.key_file),
        "WELLBEING_SECRET_KEY": "x" * 48,
    }


def test_reset_mfa_from_the_cli(fresh_env):
    with fresh_env.db.session() as session:
        user = make_user(session, fresh_env.settings, Role.COUNSELLOR, username="zhao")
        enable_totp(session, user)
        start_session(session, user, "127.0.0.1", mfa_passed=True)
    runner = CliRunner()
    result = runner.invoke(main, ["users", "reset-mfa", "zhao"], env=_cli_env(fresh_env))
    assert result.exit_code == 0, result.output
    with fresh_env.db.session() as session:
        stored = session.scalar(select(User).where(User.username == "zhao"))
        assert not stored.totp_enabled and stored.totp_secret_ct is None
        assert all(r.revoked_at is not None for r in session.scalars(select(UserSession)))
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "auth:mfa:reset")
        ).all()
        assert [e.detail for e in entries] == [
            {"by": "admin", "sessions_ended": 1, "recovery_codes_removed": 0}
        ]
    missing = runner.invoke(main, ["users", "reset-mfa", "nobody"], env=_cli_env(fresh_env))
    assert missing.exit_code != 0 and "no user nobody" in missing.output
