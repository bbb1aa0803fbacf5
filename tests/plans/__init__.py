"""Tests of the plan (一生一策): body, diff, services, sign-off, tasks, proposals, jobs."""
