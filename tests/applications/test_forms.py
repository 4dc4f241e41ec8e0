"""Form validation on open-ended input: never crashes, reports per field, keeps only known keys."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from applications.forms import form_schema, validate
from tests.applications.conftest import BUSINESS, COMPANY, ELDER_CARD, PROPERTY, demo_catalogue

MATTERS = {m.code: m for m in demo_catalogue().matters}
SCHEMAS = [
    form_schema(MATTERS[c], s)
    for c in (ELDER_CARD, BUSINESS, PROPERTY, COMPANY)
    for s in (None, "02")
]

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
values = scalars | st.lists(scalars, max_size=2)
ALL_KEYS = sorted({k for schema in SCHEMAS for k in schema["properties"]} | {"unknown", ""})


@given(st.sampled_from(SCHEMAS), st.dictionaries(st.sampled_from(ALL_KEYS), values, max_size=8))
def test_any_input_gets_field_errors_or_a_clean_form(
    schema: dict[str, Any], form: dict[str, Any]
) -> None:
    cleaned, errors = validate(schema, form)
    assert set(cleaned) <= set(schema["properties"])
    for error in errors:
        assert error.field is not None
        assert error.field == "form" or error.field.startswith("form.")
        assert error.message
        assert error.code.isupper()
    fields = [e.field for e in errors]
    assert len(fields) == len(set(fields))  # one error per field
    if not errors:
        assert set(schema["required"]) <= set(cleaned)


@given(st.sampled_from(SCHEMAS), values)
def test_non_objects_are_one_error(schema: dict[str, Any], value: Any) -> None:
    if isinstance(value, dict):
        return
    cleaned, errors = validate(schema, value)
    assert cleaned == {}
    assert [e.field for e in errors] == ["form"]
