"""Notifications: the e-mail outbox (delivered by the scheduler) and in-app notices."""
