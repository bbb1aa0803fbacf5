"""Data keys: stored wrapped under the master key; rotation and rewrap."""
