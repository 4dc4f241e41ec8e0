"""秒批 issues the licence in the case's own transaction (with files sent along and an agent's
grant re-check in the same batch); a status-list slot drawn by someone else meanwhile (the
random index collides) falls back to issuing step by step, drawing again; the status list's
count is of licences issued, not of requests."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from typing import Any

import pytest

from app.ids import object_id_from_global
from tests.applications.conftest import ELDER_CARD, REFS, SUBMIT, elder_input, errors
from tests.applications.flows.test_agency import grant
from tests.applications.flows.test_agent_act_race import revoke_after_the_submission_check
from tests.applications.test_inline_files import post_submit, stored
from tests.applications.test_submit import ELDER_ID
from tests.applications.uploading import png
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


RESULTS = {"type_code": {"$ne": "JMSFZ"}}


def _agent_sub(key: str, principal: str) -> dict[str, Any]:
    sub = {**elder_input(key, ELDER_ID), "onBehalfOf": principal}
    sub["materials"] = [
        {"name": "居民身份证", "provision": "LICENCE", "reference": REFS["licence-idcard"]},
        {"name": "近期免冠照片", "provision": "UPLOAD", "file": None},
    ]
    return sub


PHOTO = {"p": ("photo.png", png("agent-photo-of-elder"), "image/png")}


async def _allocated(api: Api) -> int:
    return sum([d["allocated"] async for d in api.state.db["sdl_status_lists"].find({})])


async def test_an_agents_instant_approval_with_a_file_is_one_transaction(
    api: Api, elder: str, citizen: str
) -> None:
    given = await grant(api, elder, matterCodes=[ELDER_CARD])
    principal = given["grant"]["principalId"]
    db = api.state.db
    payload = await post_submit(
        api, citizen, _agent_sub("i5-agent-1", principal), PHOTO, {"p": [1]}
    )
    assert payload["userErrors"] == []
    assert payload["application"]["status"] == "APPROVED"
    app_id = object_id_from_global(payload["application"]["id"], "Application")
    doc = await db["applications"].find_one({"_id": app_id})
    assert doc is not None
    assert doc["result"]["delivery"] == f"WALLET:{app_id}"
    assert "result_pending" not in doc
    assert [lic["_id"] for lic in await db["licences"].find(RESULTS).to_list(5)] == [app_id]
    photo = await db["material_uploads"].find_one(
        {"_id": object_id_from_global(doc["materials"][1]["reference"], "Upload")}
    )
    assert photo is not None
    assert photo["attached_to"] == [app_id]
    g = await db["agency_grants"].find_one(
        {"_id": object_id_from_global(given["grant"]["id"], "AgencyGrant")}
    )
    assert g is not None
    assert g.get("acts") == 1
    assert await db["application_notices"].count_documents({"application_id": app_id}) == 1


async def test_a_revocation_racing_an_agents_instant_approval_with_a_file(
    api: Api, elder: str, citizen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = await grant(api, elder, matterCodes=[ELDER_CARD])
    principal = given["grant"]["principalId"]
    revoke_after_the_submission_check(monkeypatch, api, elder)
    db = api.state.db
    before = (await stored(api), await db["application_notices"].count_documents({}))
    payload = await post_submit(
        api, citizen, _agent_sub("i5-agent-2", principal), PHOTO, {"p": [1]}
    )
    assert errors(payload) == [("onBehalfOf", "AGENT_NOT_AUTHORISED")]
    assert await db["applications"].count_documents({}) == 0
    assert await db["licences"].count_documents(RESULTS) == 0
    assert (await stored(api), await db["application_notices"].count_documents({})) == before


async def test_a_refused_or_repeated_instant_approval_counts_no_status_slot(
    api: Api, elder: str
) -> None:
    """The status list's `allocated` counts licences; a double tap issues none."""
    request = {"input": elder_input("i5-slot-1", ELDER_ID)}
    first = (await api.data(SUBMIT, request, elder))["submitApplication"]
    assert first["userErrors"] == []
    after_first = await _allocated(api)
    for _ in range(5):  # the client's retries of the same request
        again = (await api.data(SUBMIT, request, elder))["submitApplication"]
        assert again["application"]["id"] == first["application"]["id"]
    assert await api.state.db["licences"].count_documents(RESULTS) == 1
    assert await _allocated(api) == after_first


async def test_a_taken_status_slot_with_a_file_sent_along(
    api: Api, elder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AlsoTaken with inline files: the files are kept first, then the case goes in (drawing
    again): one case, one licence, one upload, nothing left over."""
    import itertools
    import secrets

    real = secrets.randbelow
    draws = itertools.chain([4242, 4242], iter(lambda: real(131_072), None))
    monkeypatch.setattr("electronic_cards.issuing.secrets.randbelow", lambda _n: next(draws))
    first = (await api.data(SUBMIT, {"input": elder_input("i5-col-1", ELDER_ID)}, elder))[
        "submitApplication"
    ]
    assert first["userErrors"] == []
    sub = elder_input("i5-col-2", ELDER_ID)
    sub["materials"] = [
        sub["materials"][0],
        {"name": "近期免冠照片", "provision": "UPLOAD", "file": None},
    ]
    before = await stored(api)
    payload = await post_submit(api, elder, sub, PHOTO, {"p": [1]})
    assert payload["userErrors"] == []
    assert payload["application"]["result"]["delivery"]["status"] == "DELIVERED"
    db = api.state.db
    assert await db["licences"].count_documents(RESULTS) == 2
    after = await stored(api)
    assert after[0] == before[0] + 1
    app_id = object_id_from_global(payload["application"]["id"], "Application")
    assert await db["application_notices"].count_documents({"application_id": app_id}) == 1


async def test_a_revocation_racing_an_agents_instant_approval_whose_slot_collided(
    api: Api, elder: str, citizen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collided 秒批 falls back to the step-by-step insert: the grant is re-checked in that
    insert's transaction too, so a revocation right after the check still refuses it."""
    first = (await api.data(SUBMIT, {"input": elder_input("i5-col-own", ELDER_ID)}, elder))[
        "submitApplication"
    ]
    assert first["userErrors"] == []
    taken = await api.state.db["licences"].find_one(RESULTS)
    assert taken is not None
    real = secrets.randbelow
    draws = itertools.chain([taken["status_index"]], iter(lambda: real(131_072), None))
    monkeypatch.setattr("electronic_cards.issuing.secrets.randbelow", lambda _n: next(draws))
    given = await grant(api, elder, matterCodes=[ELDER_CARD])
    principal = given["grant"]["principalId"]
    revoke_after_the_submission_check(monkeypatch, api, elder)
    db = api.state.db
    sub = {**elder_input("i5-col-agent", ELDER_ID), "onBehalfOf": principal}
    sub["materials"] = [
        {"name": "居民身份证", "provision": "LICENCE", "reference": REFS["licence-idcard"]},
        sub["materials"][1],
    ]
    payload = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert errors(payload) == [("onBehalfOf", "AGENT_NOT_AUTHORISED")]
    assert await db["applications"].count_documents({}) == 1  # the elder's own only
    assert await db["licences"].count_documents(RESULTS) == 1


async def _lists(api: Api) -> dict[str, int]:
    return {d["_id"]: d["allocated"] async for d in api.state.db["sdl_status_lists"].find({})}


async def _per_list(api: Api) -> dict[str, int]:
    out: dict[str, int] = {}
    async for lic in api.state.db["licences"].find({}, {"status_list_id": 1}):
        out[lic["status_list_id"]] = out.get(lic["status_list_id"], 0) + 1
    return out


async def test_allocated_equals_licences_after_a_collision(
    api: Api, elder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = secrets.randbelow
    draws = itertools.chain([4242, 4242], iter(lambda: real(131_072), None))
    monkeypatch.setattr("electronic_cards.issuing.secrets.randbelow", lambda _n: next(draws))
    for key in ("i6-slot-0001", "i6-slot-0002"):
        payload = (await api.data(SUBMIT, {"input": elder_input(key, ELDER_ID)}, elder))[
            "submitApplication"
        ]
        assert payload["userErrors"] == []
    assert await _lists(api) == await _per_list(api)


async def test_concurrent_instant_approvals_overshoot_the_fill_by_the_concurrency(
    api: Api, elder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("electronic_cards.status_list_store.STATUS_LIST_FILL", 2)
    monkeypatch.setattr("electronic_cards.store.STATUS_LIST_FILL", 2)
    n = 8
    payloads = await asyncio.gather(
        *(
            api.data(SUBMIT, {"input": elder_input(f"i6-conc-{i:04d}", ELDER_ID)}, elder)
            for i in range(n)
        )
    )
    assert all(p["submitApplication"]["userErrors"] == [] for p in payloads)
    lists, per = await _lists(api), await _per_list(api)
    assert lists == per  # counts agree with licences
    assert max(lists.values()) > 2  # the fill is overshot, by at most the requests in flight


async def test_concurrent_step_by_step_deliveries_of_one_licence_count_one_slot(api: Api) -> None:
    """issue_licence (the step path: drafts, collisions, the worker's retry) still counts before
    its insert: two deliveries of the same pending result racing count two slots, one licence."""
    from datetime import date

    from bson import ObjectId

    from electronic_cards.service import LicenceSpec

    cards = api.state.cards_service()
    spec = LicenceSpec("LNRYDZ", "测试", "N1", "青岛市民政局", "370200", date(2020, 1, 1), None)
    before = sum((await _lists(api)).values())
    app_id, holder = ObjectId(), ObjectId()
    await asyncio.gather(*(cards.issue_licence(holder, spec, licence_id=app_id) for _ in range(2)))
    assert await api.state.db["licences"].count_documents({"_id": app_id}) == 1
    assert sum((await _lists(api)).values()) - before == 1
