"""Form sealing as a unit: masked copy stored, originals in one blob, read under any generation."""

from __future__ import annotations

import pytest

from app.keyring import Keyring
from applications import form_sealing
from applications.forms import form_schema
from tests.applications.conftest import BUSINESS, ELDER_CARD, demo_catalogue

ID_NUMBER = "370202198506151234"
FIELDS = {"idNumber": "id-number", "phone": "phone", "agentPhone": "phone"}


def test_personal_fields_come_from_x_format_in_every_situation() -> None:
    matters = {m.code: m for m in demo_catalogue().matters}
    elder = form_sealing.personal_fields(form_schema(matters[ELDER_CARD]))
    assert elder == {"idNumber": "id-number", "phone": "phone", "emergencyPhone": "phone"}
    business = form_sealing.matter_fields([matters[BUSINESS]])
    # The agent's section (委托他人代为办理) is another situation's: a draft may hold it.
    assert {"idNumber", "phone", "agentIdNumber", "agentPhone"} <= set(business)
    assert "businessName" not in business


def test_sealed_values_are_masked_in_the_stored_form_and_opened_under_older_keys() -> None:
    old = Keyring.from_master(b"form-sealing-old-secret")
    form = {"idNumber": ID_NUMBER, "phone": "13800000001", "agentPhone": "", "name": "张三明"}
    stored, blob = form_sealing.seal_form(FIELDS, form, old)
    assert stored == {
        "idNumber": "3702**********1234",
        "phone": "138****0001",
        "agentPhone": "",
        "name": "张三明",
    }
    assert blob is not None
    assert ID_NUMBER.encode() not in bytes(blob)
    assert b"13800000001" not in bytes(blob)
    assert form_sealing.open_form(stored, blob, old) == form
    rotated = Keyring.from_master(b"form-sealing-new-secret", [b"form-sealing-old-secret"])
    assert form_sealing.open_form(stored, blob, rotated) == form  # read during a rotation
    with pytest.raises(
        ValueError, match="does not authenticate"
    ):  # a generation not configured cannot open it
        form_sealing.open_form(stored, blob, Keyring.from_master(b"form-sealing-new-secret"))


def test_a_form_without_personal_values_or_stored_before_sealing_reads_as_it_is() -> None:
    ring = Keyring.from_master(b"form-sealing-secret")
    assert form_sealing.seal_form(FIELDS, {"name": "张三明"}, ring) == ({"name": "张三明"}, None)
    legacy = {"_id": 1, "form": {"idNumber": ID_NUMBER}}
    assert form_sealing.open_document(legacy, ring) == {"idNumber": ID_NUMBER}
    # A draft's value of another type (not validated) is kept as typed, masked as text.
    stored, blob = form_sealing.seal_form(FIELDS, {"phone": 13800000001}, ring)
    assert stored == {"phone": "138****0001"}
    assert form_sealing.open_form(stored, blob, ring) == {"phone": 13800000001}


def test_a_form_from_before_sealing_has_its_numbers_found_by_value() -> None:
    form = {
        "idNumber": "370202198506151230",  # valid check digit (ID_NUMBER above is not)
        "contact": "+86 138-0000-0001",
        "count": 13800000001,  # not text: left alone
        "uscc": "91370200MA3C0X1Y2Z",
        "name": "张三明",
    }
    assert form_sealing.detected_fields(form) == {"idNumber": "id-number", "contact": "phone"}
