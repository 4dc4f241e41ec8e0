"""WeChat subscribe messages against a WeChat-compatible server on 127.0.0.1: the consent
ledger (one-time grants are used up by one send), 43101, 40003 and token expiry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app.context import AppState
from notifications import service as notifications_service
from notifications.models import Provider
from notifications.policy import ManualClock, QuietHours
from notifications.providers.wechat import WeChatProvider
from notifications.wechat_store import WechatGrantStore
from notifications.worker import Dispatcher
from tests.conftest import ThreadedServer
from tests.factories import Api, create_demo_user
from tests.notifications.wechat_standin import APPID, SECRET, WeChatStandIn

TEMPLATE = "tmplApplicationStatus01"
DATA = {
    "matter_name": "个体工商户设立登记（含名称自主申报及多证合一）",
    "receipt_number": "QD1",
    "status": "已办结",
    "application_id": "a1",
}
REGISTER = """mutation($t: String!) { registerDevice(input: {provider: WECHAT_MINIPROGRAM,
    token: $t, platform: MINIPROGRAM}) { device { id } userErrors { code } } }"""
GRANT = """mutation($d: ID!, $t: [String!]!) { recordSubscribeGrant(input: {deviceId: $d,
    templateIds: $t}) { recorded userErrors { field code } } }"""


@pytest.fixture
def wechat_server() -> Iterator[WeChatStandIn]:
    standin = WeChatStandIn()
    with ThreadedServer(standin.app) as server:
        standin.base_url = server.url  # type: ignore[attr-defined]
        yield standin


@pytest.fixture
async def wechat(api: Api, wechat_server: WeChatStandIn) -> AsyncIterator[WeChatProvider]:
    provider = WeChatProvider(
        httpx.AsyncClient(timeout=5),
        WechatGrantStore(api.state.db),
        appid=APPID,
        secret=SECRET,
        api_base=wechat_server.base_url,  # type: ignore[attr-defined]
        templates={"APPLICATION_STATUS": TEMPLATE},
    )
    yield provider
    await provider.aclose()


def _worker(state: AppState, wechat: WeChatProvider, clock: ManualClock) -> Dispatcher:
    return Dispatcher(
        state.db, {Provider.WECHAT_MINIPROGRAM: wechat}, quiet=QuietHours.parse(""), clock=clock
    )


async def _device(api: Api, token: str, openid: str, grants: int) -> None:
    device = (await api.data(REGISTER, {"t": openid}, token))["registerDevice"]["device"]
    for _ in range(grants):
        result = await api.data(GRANT, {"d": device["id"], "t": [TEMPLATE]}, token)
        assert result["recordSubscribeGrant"] == {"recorded": 1, "userErrors": []}


async def test_one_time_grants_allow_one_message_each(
    api: Api, wechat: WeChatProvider, wechat_server: WeChatStandIn, clock: ManualClock
) -> None:
    user = await create_demo_user(api.state, "13800000001")
    openid = "oAbc" + "1" * 24
    await _device(api, await api.token("13800000001"), openid, grants=1)
    worker = _worker(api.state, wechat, clock)
    for key in ("first", "second"):
        await notifications_service.notify(
            api.state.db, user.id, "APPLICATION_STATUS_CHANGED", DATA, key=key, clock=clock
        )
        await worker.run_until_idle()
    [sent] = wechat_server.sent
    assert (sent["touser"], sent["template_id"], sent["page"]) == (
        openid,
        TEMPLATE,
        "zsb://applications/a1",
    )
    assert all(len(v["value"]) <= 20 for v in sent["data"].values())  # WeChat's `thing` limit
    grant = await WechatGrantStore(api.state.db).wechat_grant(openid, TEMPLATE)
    assert grant is not None
    assert grant["remaining"] == 0
    failure = await api.state.db["notification_failures"].find_one({"code": "NO_GRANT"})
    assert failure is not None  # the second message stayed in the inbox only


async def test_refusal_zeroes_the_ledger_and_an_expired_token_is_refreshed(
    api: Api, wechat: WeChatProvider, wechat_server: WeChatStandIn, clock: ManualClock
) -> None:
    one, two = (
        await create_demo_user(api.state, "13800000001"),
        await create_demo_user(api.state, "13800000002"),
    )
    await _device(api, await api.token("13800000001"), "refuse" + "2" * 22, grants=3)
    await _device(api, await api.token("13800000002"), "oOk" + "3" * 25, grants=1)
    worker = _worker(api.state, wechat, clock)
    await notifications_service.notify(
        api.state.db, one.id, "APPLICATION_STATUS_CHANGED", DATA, clock=clock
    )
    await worker.run_until_idle()
    grant = await WechatGrantStore(api.state.db).wechat_grant("refuse" + "2" * 22, TEMPLATE)
    assert grant is not None
    assert grant["remaining"] == 0

    wechat_server.expire_next()
    await notifications_service.notify(
        api.state.db, two.id, "APPLICATION_STATUS_CHANGED", DATA, clock=clock
    )
    await worker.run_until_idle()
    assert [m["touser"] for m in wechat_server.sent] == ["oOk" + "3" * 25]
    assert wechat_server.token_requests == 2  # the first token, then one forced refresh


async def test_grants_only_for_my_own_mini_program_device(api: Api) -> None:
    owner, other = await api.token("13800000001"), await api.token("13800000002")
    device = (await api.data(REGISTER, {"t": "oAbc" + "4" * 24}, owner))["registerDevice"]["device"]
    theirs = await api.data(GRANT, {"d": device["id"], "t": [TEMPLATE]}, other)
    assert theirs["recordSubscribeGrant"]["userErrors"] == [
        {"field": "deviceId", "code": "NOT_FOUND"}
    ]
    too_many = await api.data(GRANT, {"d": device["id"], "t": [TEMPLATE] * 4}, owner)
    assert too_many["recordSubscribeGrant"]["userErrors"][0]["code"] == "INVALID_TEMPLATE_IDS"
