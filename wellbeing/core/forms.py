"""Form fields shared by the modules.

:class:`MultiCheckboxField` is the one field for "tick any of these". A plain
``SelectMultipleField`` with ``DataRequired`` hands its validators to every option it renders,
so each checkbox gets the HTML ``required`` attribute and the browser refuses the form until
*every* box is ticked: a hotline call could be saved only with all eight topics, and was then
forwarded as "self-harm". Here the options never carry ``required``; "at least one" is checked
on the server with a message the user can read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import SelectMultipleField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # WTForms 3.3 has it, its stubs (3.2) not yet
from wtforms.validators import StopValidation
from wtforms.widgets import CheckboxInput, ListWidget


class AtLeastOne:
    """Stop with ``message`` unless at least one option is ticked. The field's ``required``
    flag is set (the label gets its asterisk), never the options'."""

    field_flags = {"required": True}

    def __init__(self, message: Any = None) -> None:
        self.message = message

    def __call__(self, form: Any, field: Any) -> None:
        if not field.data:
            raise StopValidation(str(self.message or _l("Choose at least one.")))


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes, none pre-ticked unless the caller sets ``data``/``default``.

    ``required=True`` adds :class:`AtLeastOne` with ``message`` (e.g. "Choose at least one
    topic."). Passing ``DataRequired``/``InputRequired`` is refused: they are what put
    ``required`` on every box.
    """

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(
        self,
        label: Any = None,
        validators: Sequence[Any] | None = None,
        *,
        required: bool = False,
        message: Any = None,
        **kwargs: Any,
    ) -> None:
        chain = list(validators or ())
        if any(getattr(v, "field_flags", {}).get("required") for v in chain):
            raise TypeError("MultiCheckboxField: use required=True, not DataRequired/InputRequired")
        if required:
            chain.insert(0, AtLeastOne(message))
        super().__init__(label, chain, **kwargs)

    def __iter__(self) -> Iterator[Any]:
        """The options, rendered without the field's validators (hence without ``required``)."""
        for option in super().__iter__():
            option.flags.required = False
            option.validators = ()
            yield option

    def pre_validate(self, form: Any) -> None:
        # Nothing ticked is for AtLeastOne to judge; WTForms' check would fail on choices=None.
        if self.data:
            super().pre_validate(form)


# A select that records a fact (which guardian, how, what outcome, which tier) starts on this
# empty option and is required: a default would record a fact nobody chose.
PLEASE_CHOOSE = _l("— please choose —")


def please_choose(choices: Sequence[Any]) -> list[Any]:
    """``choices`` with the empty "please choose" option first (pair it with a required
    validator: ``DataRequired``, or ``InputRequired`` when a choice may be falsy, like 0)."""
    return [("", PLEASE_CHOOSE), *choices]


def int_or_none(value: Any) -> int | None:
    """``coerce`` of an integer select with the empty option ("" stays "nothing chosen")."""
    return None if value in ("", None) else int(value)


# ``SelectChoice``: WTForms' option (value, label), imported from here so the stubs' gap is
# bridged in one place.
__all__ = [
    "PLEASE_CHOOSE",
    "AtLeastOne",
    "MultiCheckboxField",
    "SelectChoice",
    "int_or_none",
    "please_choose",
]
