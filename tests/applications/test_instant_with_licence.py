"""秒批 issues the licence in the case's own transaction; a status-list slot drawn by someone
else meanwhile (the random index collides) falls back to issuing step by step, drawing again."""

from __future__ import annotations

import itertools
import secrets

import pytest

from tests.applications.conftest import SUBMIT, elder_input
from tests.applications.test_submit import ELDER_ID
from tests.factories import Api


async def test_a_taken_status_slot_falls_back_and_draws_again(
    api: Api, elder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first two draws are the same index: the second 秒批 collides with the first's licence
    # (one status list: its unique (list, index) key), the step-by-step issue draws again.
    real = secrets.randbelow
    draws = itertools.chain([4242, 4242], iter(lambda: real(131_072), None))
    monkeypatch.setattr("electronic_cards.issuing.secrets.randbelow", lambda _n: next(draws))
    db = api.state.db
    results = []
    for key in ("slot-0001", "slot-0002"):
        payload = (await api.data(SUBMIT, {"input": elder_input(key, ELDER_ID)}, elder))[
            "submitApplication"
        ]
        assert payload["userErrors"] == []
        assert payload["application"]["status"] == "APPROVED"
        assert payload["application"]["result"]["delivery"]["status"] == "DELIVERED"
        results.append(payload["application"])
    licences = await db["licences"].find({"type_code": "LNRYDZ"}).to_list(None)
    assert len(licences) == 2
    assert len({(lic["status_list_id"], lic["status_index"]) for lic in licences}) == 2
    assert 4242 in {lic["status_index"] for lic in licences}
    # Each case's licence has the case's id, and each case was told once.
    apps = await db["applications"].find({}).to_list(None)
    assert {a["_id"] for a in apps} == {lic["_id"] for lic in licences}
    for app in apps:
        assert await db["application_notices"].count_documents({"application_id": app["_id"]}) == 1
        assert app["result"]["delivery"] == f"WALLET:{app['_id']}"
