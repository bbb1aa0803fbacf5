"""Follow-ups: cadence by tier, manual/plan/review follow-ups, overdue scan, agenda, digest."""
