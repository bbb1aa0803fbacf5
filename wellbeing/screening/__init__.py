"""Screening: questionnaires defined as data (YAML) and a pure scoring engine."""
