"""The tier part of the growth-record timeline: every tier decision, from which tier to which,
who decided and why (the reason as people read it, :func:`wellbeing.labels.tier_reason_label`)."""

from __future__ import annotations

import datetime as dt

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core.authz import Principal
from ..labels import tier_reason_label, tier_source_label
from ..students.models import Student
from ..students.timeline import TimelineItem, names_of, newest
from .models import TierDecision
from .policy import policy_for_student

KINDS = {"tier": _l("Tier decisions")}


def items(
    session: Session, principal: Principal, student: Student,
    since: dt.datetime | None, until: dt.datetime | None,
) -> list[TimelineItem]:  # fmt: skip
    rows = newest(session, TierDecision, TierDecision.decided_at, student, since, until)
    policy = policy_for_student(session, student)
    locale = str(get_locale() or "zh_CN")
    names = names_of(session, {r.decided_by for r in rows})
    found = []
    for row in rows:
        title = _l(
            "Tier %(old)s → %(new)s",
            old=policy.tier_name(row.from_tier, locale),
            new=policy.tier_name(row.to_tier, locale),
        )
        lines = [str(_l("Source: %(source)s", source=tier_source_label(row.source)))]
        reason = tier_reason_label(row)
        if reason:
            lines.append(str(_l("Reason: %(reason)s", reason=reason)))
        found.append(
            TimelineItem(
                at=row.decided_at,
                kind="tier",
                title=str(title),
                lines=tuple(lines),
                actor=names.get(row.decided_by) if row.decided_by else None,
            )
        )
    return found
