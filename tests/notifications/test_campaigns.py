"""Campaigns: four eyes, targets, preview, cancel, and an approved campaign end to end."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from app.context import AppState
from app.settings import Settings
from auth.dev_issuer import DevIssuer
from auth.directory import phone_key_candidates
from notifications.audience import AudienceReader
from notifications.models import Audience, Target
from notifications.policy import ManualClock
from notifications.providers.fcm import FcmProvider
from notifications.store import INBOX
from tests.conftest import make_settings
from tests.factories import Api, create_demo_user
from tests.notifications.conftest import add_device, dispatcher, insert_citizens
from tests.notifications.fcm_standin import FcmStandIn


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path, oidc_issuer: DevIssuer) -> Settings:
    """Exact figures for these targeting tests' handful of citizens: the reporting threshold
    (ZSB_CAMPAIGN_MIN_REPORTED) is tested in tests/security/test_campaign_privacy.py."""
    return make_settings(
        mongo_uri, tmp_path, oidc_issuer=oidc_issuer.issuer, campaign_min_reported=1
    )


CREATE = """
mutation($input: CreateCampaignInput!) {
  createCampaign(input: $input) { campaign { id status } userErrors { field code message } }
}"""
APPROVE = """
mutation($id: ID!) {
  approveCampaign(input: {campaignId: $id}) { campaign { id status } userErrors { field code } }
}"""
CANCEL = """
mutation($id: ID!) {
  cancelCampaign(input: {campaignId: $id}) { campaign { id status } userErrors { field code } }
}"""
PREVIEW = """
mutation($target: CampaignTargetInput!) {
  previewCampaign(input: {target: $target}) { audienceSize audienceBand userErrors { field code } }
}"""
CAMPAIGN = """
query($id: ID!) {
  campaign(id: $id) { status stats { targeted queued inboxed sent failed suppressed opened } }
}"""


def _draft(target: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {
        "input": {
            "title": "稳岗补贴免申即享",
            "body": "符合条件的企业无需申请，补贴将直接拨付。",
            "deepLink": "zsb://policies/wengang-2026",
            "category": "POLICY",
            "target": target,
            **kw,
        }
    }


async def _citizens(state: AppState) -> None:
    for phone in ("13800000001", "13800000002", "13800000003"):
        await create_demo_user(state, phone)


async def _operators(api: Api) -> tuple[str, str]:
    """Two operators: the creator and the second pair of eyes."""
    for phone in ("13800000301", "13800000302"):
        await create_demo_user(api.state, phone)
    return await api.token("13800000301"), await api.token("13800000302")


async def _create(api: Api, token: str, target: dict[str, Any]) -> dict[str, Any]:
    payload = (await api.data(CREATE, _draft(target), token))["createCampaign"]
    assert payload["userErrors"] == [], payload
    return dict(payload["campaign"])


async def test_the_creator_cannot_approve_and_nobody_approves_twice(api: Api) -> None:
    await _citizens(api.state)
    creator, checker = await _operators(api)
    campaign = await _create(api, creator, {"all": True})
    assert campaign["status"] == "PENDING_APPROVAL"
    own = (await api.data(APPROVE, {"id": campaign["id"]}, creator))["approveCampaign"]
    assert own == {
        "campaign": None,
        "userErrors": [{"field": "campaignId", "code": "FOUR_EYES_REQUIRED"}],
    }
    ok = (await api.data(APPROVE, {"id": campaign["id"]}, checker))["approveCampaign"]
    assert ok["campaign"]["status"] == "APPROVED"
    twice = (await api.data(APPROVE, {"id": campaign["id"]}, checker))["approveCampaign"]
    assert twice["userErrors"] == [{"field": "campaignId", "code": "INVALID_STATE"}]


async def test_citizens_cannot_run_campaigns(api: Api) -> None:
    token = await api.token("13800000001")
    payload = await api.gql(CREATE, _draft({"all": True}), token)
    assert payload["errors"][0]["extensions"] == {"code": "FORBIDDEN"}


async def test_preview_counts_and_bad_targets_are_typed_errors(api: Api) -> None:
    await _citizens(api.state)
    token, _ = await _operators(api)

    async def size(target: dict[str, Any]) -> Any:
        return (await api.data(PREVIEW, {"target": target}, token))["previewCampaign"]

    # The filters, counted exactly where operators never see them (the audience reader) ...
    reader = AudienceReader(api.state.db)
    keys = phone_key_candidates(api.state.keyring, ["13800000003", "13800000002"])
    assert await reader.count(Target(all=True)) == 3
    assert await reader.count(Target(region_codes=("370202",))) == 1
    assert await reader.count(Target(tags=("老年人",))) == 1
    assert await reader.count(Target(audience=Audience.ORGANIZATION)) == 1
    assert await reader.count(Target(audience=Audience.PERSON, region_codes=("370212",))) == 1
    assert await reader.count(Target(phones=tuple(keys))) == 2
    # ... and as banded for them (this module's threshold is 1: "<1", "1–9", "10–99", ...).
    assert await size({"all": True}) == {
        "audienceSize": None,
        "audienceBand": "1–9",
        "userErrors": [],
    }
    assert (await size({"regionCodes": ["370285"]}))["audienceBand"] == "<1"
    assert (await size({"phones": ["13800000003", "13800000002"]}))["audienceBand"] == "1–9"
    assert (await size({}))["userErrors"] == [{"field": "target", "code": "INVALID_TARGET"}]
    assert (await size({"regionCodes": ["37"]}))["userErrors"][0]["field"] == "target.regionCodes"
    assert (await size({"phones": ["12345"]}))["userErrors"][0]["field"] == "target.phones"
    assert (await size({"licenceTypeCode": "DRIVING"}))["userErrors"][0]["code"] == "INVALID_TARGET"

    nobody = await api.data(CREATE, _draft({"regionCodes": ["370285"]}), token)
    assert nobody["createCampaign"]["userErrors"] == [
        {
            "field": "target",
            "code": "EMPTY_AUDIENCE",
            "message": "没有符合条件的接收人 (the target matches nobody)",
        }
    ]
    bad_link = await api.data(CREATE, _draft({"all": True}, deepLink="javascript:alert(1)"), token)
    assert bad_link["createCampaign"]["userErrors"][0]["field"] == "deepLink"


async def test_an_approved_campaign_reaches_inboxes_and_fcm_and_counts_opens(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn, clock: ManualClock
) -> None:
    await _citizens(api.state)
    users = [await create_demo_user(api.state, p) for p in ("13800000001", "13800000002")]
    for i, user in enumerate(users):
        await add_device(api.state, user, f"ok-{i}-" + "m" * 40)
    await add_device(api.state, users[0], "unreg-" + "n" * 40)
    creator, checker = await _operators(api)
    campaign = await _create(api, creator, {"all": True})
    await api.data(APPROVE, {"id": campaign["id"]}, checker)

    await dispatcher(api.state, fcm, clock).run_until_idle()
    state = (await api.data(CAMPAIGN, {"id": campaign["id"]}, checker))["campaign"]
    assert state == {
        "status": "DONE",
        "stats": {
            "targeted": 3,
            "queued": 0,
            "inboxed": 3,
            "sent": 2,
            "failed": 1,
            "suppressed": 0,
            "opened": 0,
        },
    }
    assert sorted(fcm_server.tokens_accepted()) == ["ok-0-" + "m" * 40, "ok-1-" + "m" * 40]
    assert fcm_server.accepted[0]["message"]["data"]["deepLink"] == "zsb://policies/wengang-2026"

    citizen = await api.token("13800000002")
    inbox = await api.data("{ inbox { nodes { id title category } } }", token=citizen)
    [node] = inbox["inbox"]["nodes"]
    assert (node["title"], node["category"]) == ("稳岗补贴免申即享", "POLICY")
    opened = """mutation($id: ID!) { markNotificationOpened(input: {notificationId: $id}) {
        notification { readAt } userErrors { code } } }"""
    for _ in range(2):  # opening twice counts once
        await api.data(opened, {"id": node["id"]}, citizen)
    stats = (await api.data(CAMPAIGN, {"id": campaign["id"]}, checker))["campaign"]["stats"]
    assert stats["opened"] == 1
    finished = (await api.data(CANCEL, {"id": campaign["id"]}, checker))["cancelCampaign"]
    assert finished["userErrors"] == [{"field": "campaignId", "code": "INVALID_STATE"}]


async def test_a_cancelled_campaign_sends_nothing_more(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn, clock: ManualClock
) -> None:
    await insert_citizens(api.state, 50)
    creator, checker = await _operators(api)
    campaign = await _create(api, creator, {"regionCodes": ["370211"]})
    await api.data(APPROVE, {"id": campaign["id"]}, checker)
    worker = dispatcher(api.state, fcm, clock)
    await worker.plan_step()  # cut into 3 jobs of ≤ 20 …
    job = await worker.claim()
    assert job is not None
    await worker.process(job)  # … one of which is sent
    cancelled = (await api.data(CANCEL, {"id": campaign["id"]}, creator))["cancelCampaign"]
    assert cancelled["campaign"]["status"] == "CANCELLED"
    await worker.run_until_idle()
    assert len(fcm_server.accepted) == 20
    assert await api.state.db[INBOX].count_documents({}) == 20


async def test_two_workers_share_one_campaign_without_duplicates(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn, clock: ManualClock
) -> None:
    users = await insert_citizens(api.state, 130)
    creator, checker = await _operators(api)
    campaign = await _create(api, creator, {"all": True})
    await api.data(APPROVE, {"id": campaign["id"]}, checker)
    workers = [dispatcher(api.state, fcm, clock, jobs_in_flight=2) for _ in range(2)]
    stop = asyncio.Event()
    running = [asyncio.create_task(w.run(stop)) for w in workers]
    deadline = asyncio.get_running_loop().time() + 60
    while (await api.state.db["notification_campaigns"].find_one({"status": "DONE"})) is None:
        assert asyncio.get_running_loop().time() < deadline, "campaign did not finish"
        await asyncio.sleep(0.05)  # polling an async outcome with a deadline
    stop.set()
    await asyncio.gather(*running)
    owners = {j["lease_owner"] async for j in api.state.db["notification_outbox"].find({})}
    assert owners == {w.owner for w in workers}  # both took part
    sent = Counter(fcm_server.tokens_accepted())
    assert len(sent) == 130
    assert set(sent.values()) == {1}
    copies = Counter([d["user_id"] async for d in api.state.db[INBOX].find({}, {"user_id": 1})])
    assert set(copies) == set(users)
    assert set(copies.values()) == {1}
    stats = (await api.data(CAMPAIGN, {"id": campaign["id"]}, checker))["campaign"]
    assert stats["status"] == "DONE"
    assert (stats["stats"]["targeted"], stats["stats"]["sent"]) == (130, 130)


async def test_planning_continues_step_after_step_without_waiting_for_its_lease(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn, clock: ManualClock
) -> None:
    await insert_citizens(api.state, 50)
    creator, checker = await _operators(api)
    campaign = await _create(api, creator, {"regionCodes": ["370211"]})
    await api.data(APPROVE, {"id": campaign["id"]}, checker)
    # One 20-recipient chunk per planning step; the clock does not move, so a step that kept
    # the planning lease would stall the campaign here.
    worker = dispatcher(api.state, fcm, clock, chunks_per_plan_step=1)
    await worker.run_until_idle()
    result = (await api.data(CAMPAIGN, {"id": campaign["id"]}, checker))["campaign"]
    assert result["status"] == "DONE"
    assert (result["stats"]["targeted"], result["stats"]["sent"]) == (50, 50)
    assert await api.state.db["notification_outbox"].count_documents({}) == 3
    assert len(fcm_server.accepted) == 50
