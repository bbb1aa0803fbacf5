"""The screening blueprint, declared apart from :mod:`.views` so that the files adding routes to
it (:mod:`.kiosk.views`, :mod:`.kiosk.held_views`) import it without importing the views back."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("screening", __name__)
