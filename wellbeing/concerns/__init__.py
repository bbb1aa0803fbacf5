"""Concerns (关注上报): daily early warning from staff, and the district hotline log."""
