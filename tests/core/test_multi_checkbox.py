"""Issue 12 items 1 and 2: a "tick any of these" field never puts ``required`` on its options
(the browser then demanded *every* box: hotline calls were saved with all eight topics and
forwarded as self-harm; a PHQ-9-only campaign could not be made). One shared field
(wellbeing.core.forms.MultiCheckboxField) checks "at least one" on the server instead."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms.fields.choices import SelectFieldBase
from wtforms.validators import DataRequired

from wellbeing.concerns.models import HotlineCall
from wellbeing.core.forms import MultiCheckboxField

from ..conftest import login
from ..factories import make_school, staff_set


class _Checkboxes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.boxes: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and (found.get("type") or "").lower() == "checkbox":
            self.boxes.append(found)


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def _app_forms() -> list[type]:
    return sorted(
        {f for f in _all_subclasses(FlaskForm) if f.__module__.startswith("wellbeing.")},
        key=lambda f: f"{f.__module__}.{f.__qualname__}",
    )


def test_no_checkbox_of_any_form_is_required(app) -> None:  # type: ignore[no-untyped-def]
    """Every FlaskForm of the app (the app factory imported every module), rendered field by
    field with two choices in every choice list: no checkbox of a choice carries ``required``."""
    forms = _app_forms()
    assert len(forms) > 20  # the walk found the app's forms, not an empty list
    with_boxes, offenders = set(), []
    with app.test_request_context():
        for form_class in forms:
            form = form_class(meta={"csrf": False})
            for field in form:
                if isinstance(field, SelectFieldBase) and not field.choices:
                    field.choices = [("1", "A"), ("2", "B")]
                parser = _Checkboxes()
                parser.feed(str(field()))
                if parser.boxes:
                    with_boxes.add(form_class.__name__)
                # A lone BooleanField ("I confirm ...") may require its one box: that is its
                # meaning. Every box of a choice field is one option among several.
                lone = field.type == "BooleanField" and len(parser.boxes) == 1
                offenders += [
                    f"{form_class.__module__}.{form_class.__name__}.{field.name}"
                    for box in parser.boxes
                    if "required" in box and not lone
                ]
    assert offenders == []
    # the walk really rendered the multi-choice fields of the issue
    assert {"HotlineForm", "CampaignForm", "SpecialCareForm", "TokenForm"} <= with_boxes


def test_the_field_refuses_data_required_and_checks_at_least_one(app) -> None:  # type: ignore[no-untyped-def]
    class Wrong(FlaskForm):
        topics = MultiCheckboxField("Topics", [DataRequired()], choices=[("a", "A")])

    with app.test_request_context(), pytest.raises(TypeError):
        Wrong(meta={"csrf": False})

    class Probe(FlaskForm):
        topics = MultiCheckboxField(
            "Topics", choices=[("a", "A"), ("b", "B")], required=True, message="Pick one"
        )
        extras = MultiCheckboxField("Extras", choices=[("x", "X")])

    with app.test_request_context(method="POST", data={}):
        form = Probe(meta={"csrf": False})
        assert not form.validate()
        assert form.topics.errors == ["Pick one"] and form.extras.errors == []
        assert form.topics.flags.required  # the label's asterisk, not the boxes'
        assert "checked" not in str(form.topics())
    with app.test_request_context(method="POST", data={"topics": "b"}):
        form = Probe(meta={"csrf": False})
        assert form.validate() and form.topics.data == ["b"]
    with app.test_request_context(method="POST", data={"topics": "zzz"}):
        assert not Probe(meta={"csrf": False}).validate()  # not a choice


def _hotline_data(**extra):  # type: ignore[no-untyped-def]
    return {"called_at": "2026-03-02T10:30", "duration_minutes": "5", "caller_type": "guardian",
            "risk_level": "1", "notes": "孩子晚上哭，不肯上学"} | extra  # fmt: skip


def test_a_hotline_call_saves_with_one_topic_and_needs_one(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    login(client, staff_set(db_session, env.settings, school)["counsellor"])
    page = client.get("/hotline/new").get_data(as_text=True)
    boxes = _Checkboxes()
    boxes.feed(page)
    assert len(boxes.boxes) == 8 and not any("required" in b for b in boxes.boxes)
    none = client.post("/hotline/new", data=_hotline_data())
    assert none.status_code == 200 and db_session.scalar(select(HotlineCall)) is None
    assert "Choose at least one topic." in none.get_data(as_text=True)
    client.post("/locale", data={"locale": "zh_CN", "next": "/"})
    again = client.post("/hotline/new", data=_hotline_data()).get_data(as_text=True)
    assert "请至少选择一个话题。" in again
    saved = client.post("/hotline/new", data=_hotline_data(topics=["family"]))
    assert saved.status_code == 302
    db_session.expire_all()
    assert db_session.scalar(select(HotlineCall)).topics == ["family"]
