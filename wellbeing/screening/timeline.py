"""The screening part of the growth-record timeline: each response with its instrument, total
score and band for those who read screening results; only "a screening took place" for others
who may read the record."""

from __future__ import annotations

import datetime as dt

from flask import url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core.authz import Permission, Principal, can
from ..students.models import Student
from ..students.timeline import TimelineItem, newest, summary
from .engine.instruments import builtin_instruments
from .models import Response

KINDS = {"screening": _l("Screenings")}


def items(
    session: Session, principal: Principal, student: Student,
    since: dt.datetime | None, until: dt.datetime | None,
) -> list[TimelineItem]:  # fmt: skip
    rows = newest(
        session, Response, Response.created_at, student, since, until, Response.voided.is_(False)
    )
    if not can(principal, Permission.SCREENING_READ, student):
        return [summary(r.created_at, "screening", _l("Screening completed")) for r in rows]
    locale = str(get_locale() or "zh_CN")
    instruments = builtin_instruments()
    history = url_for("screening.history", student_id=student.id)
    found = []
    for response in rows:
        inst = instruments.get(response.instrument)
        title = inst.name.get(locale) if inst else response.instrument
        lines = []
        if inst is not None and inst.total is not None:
            scale_data = (response.data or {}).get("scores", {}).get("scales", {})
            total = scale_data.get(inst.total, {})
            if total.get("value") is not None:
                lines.append(str(_l("Score: %(score)s", score=total["value"])))
            band = next(
                (b for b in inst.scale(inst.total).bands if b.code == total.get("band")), None
            )
            if band is not None:
                lines.append(str(_l("Band: %(band)s", band=band.label.get(locale))))
        found.append(
            TimelineItem(
                at=response.created_at,
                kind="screening",
                title=str(title),
                lines=tuple(lines),
                url=history,
            )
        )
    return found
