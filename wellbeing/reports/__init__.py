"""School and district dashboards: aggregate counts by GROUP BY on indexed columns."""
