"""The audit module's tables. They are declared in :mod:`wellbeing.core.audit_models` (core
writes and verifies the chain and imports no domain module); this is their public name here."""

from __future__ import annotations

from ..core.audit_models import (
    BREAK_GLASS_STATES,
    AuditCheckpoint,
    AuditEntry,
    AuditVerification,
    BreakGlass,
    BreakGlassState,
)

__all__ = [
    "BREAK_GLASS_STATES",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditVerification",
    "BreakGlass",
    "BreakGlassState",
]
