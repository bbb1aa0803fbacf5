"""The audit module's tables. They are declared in :mod:`wellbeing.core.audit_models` (core
writes and verifies the chain and imports no domain module); this is their public name here."""

from __future__ import annotations

from ..core.audit_models import AuditCheckpoint, AuditEntry, AuditVerification, BreakGlass

__all__ = ["AuditCheckpoint", "AuditEntry", "AuditVerification", "BreakGlass"]
