"""The audit trail's tables, the supervisor console and break-glass access."""
