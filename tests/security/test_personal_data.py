"""The personal-data guard itself (pii_guard.py) and the masking it relies on."""

from __future__ import annotations

import json
import logging

from app.seed import DEMO_USERS
from tests.factories import Api, create_demo_user
from tests.security import pii_guard

CITIZEN = DEMO_USERS[0]


def test_a_log_line_with_an_identity_number_is_caught() -> None:
    assert CITIZEN.id_number
    logging.getLogger("applications.service").info(
        "submitted", extra={"applicant": CITIZEN.id_number}
    )
    caught = list(pii_guard._found)
    pii_guard._found.clear()  # this test leaked on purpose
    assert any(CITIZEN.id_number in line for line in caught), caught


def test_responses_are_judged_by_where_the_number_sits() -> None:
    assert CITIZEN.id_number
    leak = {"data": {"me": {"idNumber": CITIZEN.id_number}}}
    assert pii_guard.scan_response(json.dumps(leak).encode()) == [
        f"response data.me.idNumber holds {CITIZEN.id_number}"
    ]
    own_form = {"data": {"application": {"form": {"phone": CITIZEN.phone}}}}
    assert pii_guard.scan_response(json.dumps(own_form).encode()) == []
    # a longer digit run that merely contains a demo phone is not that phone
    assert pii_guard.scan_response(json.dumps({"data": {"n": "9" + CITIZEN.phone}}).encode()) == []


async def test_the_signed_in_person_sees_themselves_masked(api: Api) -> None:
    await create_demo_user(api.state, CITIZEN.phone)
    token = await api.token(CITIZEN.phone)
    me = (await api.data("{ me { phone idNumber name } }", token=token))["me"]
    assert me["phone"] == CITIZEN.phone[:3] + "****" + CITIZEN.phone[-4:]
    assert CITIZEN.id_number
    assert me["idNumber"] == CITIZEN.id_number[:4] + "*" * 10 + CITIZEN.id_number[-4:]
    assert not pii_guard._found  # nothing else along the way (SMS sign-in included)
