"""Templates are checked when defined and refuse to render with missing data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifications.errors import MissingDataError, TemplateError, UnknownTemplateError
from notifications.models import Category
from notifications.policy import QuietHours
from notifications.templates import TEMPLATES, Template, get_template


def test_unknown_placeholders_fail_when_the_template_is_defined() -> None:
    with pytest.raises(TemplateError) as unknown:
        Template("T", Category.SYSTEM, "标题", "您好 ((nmae))", frozenset({"name"}))
    assert "nmae" in unknown.value.message
    with pytest.raises(TemplateError):
        Template("T", Category.SYSTEM, "标题", "没有占位符", frozenset({"name"}))  # unused field
    with pytest.raises(TemplateError):
        Template("T", Category.SYSTEM, "标题", "((Bad Name))", frozenset({"Bad Name"}))


def test_rendering_fills_every_field_and_refuses_blanks() -> None:
    template = get_template("LICENCE_EXPIRING")
    rendered = template.render(
        {"licence_name": "驾驶证", "valid_until": "2027-01-01", "licence_id": "l1"}
    )
    assert rendered.body == "您的「驾驶证」将于 2027-01-01 到期，请及时办理延续。"
    assert rendered.deep_link == "zsb://licences/l1"
    with pytest.raises(MissingDataError) as missing:
        template.render({"licence_name": "驾驶证", "valid_until": None})
    assert sorted(missing.value.missing) == ["licence_id", "valid_until"]
    with pytest.raises(UnknownTemplateError):
        get_template("NOPE")


@given(st.text(max_size=300))
def test_values_never_become_placeholders_or_vanish(value: str) -> None:
    template = TEMPLATES["LICENCE_EXPIRING"]
    data = {"licence_name": value, "valid_until": "2027-01-01", "licence_id": "l1"}
    if not value.strip():
        with pytest.raises(MissingDataError):
            template.render(data)
        return
    rendered = template.render(data)
    assert value.strip()[:200] in rendered.body


def test_quiet_hours_parse_and_cross_midnight() -> None:
    assert QuietHours.parse("") is None
    quiet = QuietHours.parse("22:00-08:00")
    assert quiet is not None
    for bad in ["22-08", "25:00-08:00", "22:00-22:00", "22:00"]:
        with pytest.raises(ValueError, match="ZSB_QUIET_HOURS"):
            QuietHours.parse(bad)
