"""The partner portal's and the referral API's URL builders for the sensitive-route harness
(``tests/audit/test_sensitive_routes.py`` imports this file at its end): every sensitive page
of the portal, each move and each API read, visited by whoever may, must write an audit entry
naming the student."""

from __future__ import annotations

import datetime as dt

from ..audit.test_sensitive_routes import Visit, builder
from ..authz import World
from .test_authz_portal import setup


def _visit(
    w: World, name: str, suffix: str = "", method: str = "GET", data: dict[str, str] | None = None
) -> Visit:
    setup(w)  # the world's partner user becomes a liaison; one referral per move, in its state
    url = f"/partner/referrals/{w.extra[f'ref_{name}']}{suffix}"
    return Visit(url, "partner", w.own_student, method=method, data=data or {})


@builder("partner_portal.queue")
def _queue(w: World) -> Visit:
    setup(w)
    return Visit("/partner/referrals", "partner", w.own_student)


@builder("partner_portal.referral")
def _referral(w: World) -> Visit:
    return _visit(w, "view")


@builder("partner_portal.print_page")
def _print(w: World) -> Visit:
    return _visit(w, "view", "/print")


@builder("partner_portal.export")
def _export(w: World) -> Visit:
    return _visit(w, "view", "/export.json")


@builder("partner_portal.acknowledge")
def _acknowledge(w: World) -> Visit:
    return _visit(w, "acknowledge", "/acknowledge", method="POST")


@builder("partner_portal.decline")
def _decline(w: World) -> Visit:
    return _visit(w, "decline", "/decline", method="POST", data={"reason": "本院已满"})


@builder("partner_portal.appointment")
def _appointment(w: World) -> Visit:
    at = (dt.datetime.now() + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    return _visit(w, "appointment", "/appointment", method="POST", data={"at": at})


@builder("partner_portal.attendance")
def _attendance(w: World) -> Visit:
    return _visit(w, "attendance", "/attendance", method="POST",
                  data={"attendance": "attended"})  # fmt: skip


@builder("partner_portal.feedback")
def _feedback(w: World) -> Visit:
    return _visit(w, "feedback", "/feedback", method="POST", data={"summary": "反馈"})


@builder("referrals_api.partner_queue")
def _api_queue(w: World) -> Visit:
    setup(w)
    return Visit("/api/v1/partner/referrals", "partner", w.own_student,
                 scopes=("partner:referrals",))  # fmt: skip


@builder("referrals_api.partner_referral")
def _api_referral(w: World) -> Visit:
    setup(w)
    return Visit(f"/api/v1/partner/referrals/{w.extra['ref_view']}", "partner", w.own_student,
                 scopes=("partner:referrals",))  # fmt: skip


@builder("referrals_api.student_referrals")
def _api_student(w: World) -> Visit:
    setup(w)
    return Visit(f"/api/v1/students/{w.own_student.id}/referrals", "psych_teacher",
                 w.own_student, scopes=("referrals:read",))  # fmt: skip
