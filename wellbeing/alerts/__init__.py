"""Alerts with escalation ladders (in-app inbox, email through the outbox)."""
