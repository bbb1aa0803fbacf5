"""The route that marks held kiosk answers reviewed (listed on the screening review page).
Registered on the screening blueprint (:mod:`..blueprint`; imported at the end of
:mod:`..views`)."""

from __future__ import annotations

import uuid

from flask import abort, flash, g, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ...core.authz import Permission
from ...db import get_session
from ...web import flash_error, require
from ..blueprint import bp
from ..errors import ScreeningError
from ..forms import ConfirmForm
from . import held as held_service


@bp.post("/screening/held/<uuid:held_id>/reviewed")
@require(Permission.TIER_DECIDE)
def held_reviewed(held_id: uuid.UUID) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:  # unknown answers: NotFound, shown as the 404 page
        held_service.mark_reviewed(get_session(), g.principal, held_id)
    except ScreeningError as exc:
        flash_error(exc)
        return redirect(url_for("screening.review")), 303
    flash(_("Marked as reviewed. The held answers stay stored."), "success")
    return redirect(url_for("screening.review"))
