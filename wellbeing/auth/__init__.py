"""Accounts, memberships, login with a second factor, server-side sessions, API tokens."""
