"""Devices and the inbox through /graphql: each citizen sees and changes only their own."""

from __future__ import annotations

from typing import Any

from app.ids import to_global_id
from notifications import service as notifications_service
from tests.factories import Api, create_demo_user

REGISTER = """
mutation($input: RegisterDeviceInput!) {
  registerDevice(input: $input) {
    device { id provider platform appVersion enabled }
    userErrors { field code message }
  }
}"""

INBOX = """
query($first: Int, $after: String, $unreadOnly: Boolean!) {
  inbox(first: $first, after: $after, unreadOnly: $unreadOnly) {
    nodes { id title body category deepLink createdAt readAt }
    pageInfo { hasNextPage endCursor }
  }
  unreadNotificationCount
}"""

MARK_READ = """
mutation($id: ID!) {
  markNotificationRead(input: {notificationId: $id}) {
    notification { id readAt }
    unreadCount
    userErrors { field code }
  }
}"""

TOKEN = "fcm-" + "x" * 140


def _device(token: str = TOKEN, **kw: Any) -> dict[str, Any]:
    return {
        "input": {
            "provider": "FCM",
            "token": token,
            "platform": "ANDROID",
            "appVersion": "5.2.0",
            "locale": "zh-CN",
            **kw,
        }
    }


async def _notify(api: Api, phone: str, n: int) -> None:
    user = await create_demo_user(api.state, phone)
    for i in range(n):
        await notifications_service.notify(
            api.state.db,
            user.id,
            "LICENCE_EXPIRING",
            {"licence_name": "驾驶证", "valid_until": f"2027-01-{i + 1:02d}", "licence_id": "l1"},
        )


async def test_a_token_moves_between_users_and_never_duplicates(api: Api) -> None:
    first, second = await api.token("13800000001"), await api.token("13800000002")
    one = (await api.data(REGISTER, _device(), first))["registerDevice"]
    assert one["userErrors"] == []
    again = (await api.data(REGISTER, _device(appVersion="5.3.0"), first))["registerDevice"]
    assert again["device"]["id"] == one["device"]["id"]
    moved = (await api.data(REGISTER, _device(), second))["registerDevice"]
    assert moved["device"]["id"] == one["device"]["id"]
    mine = "{ myDevices { id appVersion } }"
    assert (await api.data(mine, token=first))["myDevices"] == []
    assert (await api.data(mine, token=second))["myDevices"] == [
        {"id": one["device"]["id"], "appVersion": "5.2.0"}
    ]


async def test_malformed_tokens_and_unknown_providers_are_refused(api: Api) -> None:
    token = await api.token("13800000001")
    for bad in ["", "short", "has spaces in it and more", "x" * 5000]:
        payload = (await api.data(REGISTER, _device(bad), token))["registerDevice"]
        assert payload["device"] is None
        assert payload["userErrors"][0]["code"] == "INVALID_DEVICE_TOKEN"
    unknown = await api.gql(REGISTER, _device(provider="APNS_CARRIER_PIGEON"), token)
    assert "errors" in unknown
    assert "APNS_CARRIER_PIGEON" in unknown["errors"][0]["message"]
    assert (await api.data("{ myDevices { id } }", token=token))["myDevices"] == []


async def test_unregister_only_my_own_device(api: Api) -> None:
    first, second = await api.token("13800000001"), await api.token("13800000002")
    device = (await api.data(REGISTER, _device(), first))["registerDevice"]["device"]
    unregister = """mutation($id: ID!) { unregisterDevice(input: {deviceId: $id}) {
        ok userErrors { code } } }"""
    theirs = (await api.data(unregister, {"id": device["id"]}, second))["unregisterDevice"]
    assert theirs == {"ok": False, "userErrors": [{"code": "NOT_FOUND"}]}
    mine = (await api.data(unregister, {"id": device["id"]}, first))["unregisterDevice"]
    assert mine == {"ok": True, "userErrors": []}


async def test_inbox_pages_counts_and_marks_read(api: Api) -> None:
    token = await api.token("13800000001")
    await _notify(api, "13800000001", 3)
    page = await api.data(INBOX, {"first": 2, "unreadOnly": False}, token)
    assert page["unreadNotificationCount"] == 3
    nodes = page["inbox"]["nodes"]
    assert ["2027-01-03" in nodes[0]["body"], "2027-01-02" in nodes[1]["body"]] == [True, True]
    assert nodes[0]["category"] == "REMINDER"
    assert nodes[0]["deepLink"] == "zsb://licences/l1"
    rest = await api.data(
        INBOX,
        {"first": 2, "after": page["inbox"]["pageInfo"]["endCursor"], "unreadOnly": False},
        token,
    )
    assert len(rest["inbox"]["nodes"]) == 1
    assert rest["inbox"]["pageInfo"]["hasNextPage"] is False

    marked = (await api.data(MARK_READ, {"id": nodes[0]["id"]}, token))["markNotificationRead"]
    assert marked["notification"]["readAt"] is not None
    assert marked["unreadCount"] == 2
    unread = await api.data(INBOX, {"unreadOnly": True}, token)
    assert len(unread["inbox"]["nodes"]) == 2

    mark_all = "mutation { markAllNotificationsRead(input: {}) { marked userErrors { code } } }"
    assert (await api.data(mark_all, token=token))["markAllNotificationsRead"]["marked"] == 2
    assert (await api.data(INBOX, {"unreadOnly": True}, token))["unreadNotificationCount"] == 0


async def test_nobody_reads_or_marks_another_citizens_inbox(api: Api) -> None:
    owner, other = await api.token("13800000001"), await api.token("13800000002")
    await _notify(api, "13800000001", 1)
    node = (await api.data(INBOX, {"unreadOnly": False}, owner))["inbox"]["nodes"][0]
    assert (await api.data(INBOX, {"unreadOnly": False}, other))["inbox"]["nodes"] == []
    attempt = (await api.data(MARK_READ, {"id": node["id"]}, other))["markNotificationRead"]
    assert attempt["userErrors"] == [{"field": "notificationId", "code": "NOT_FOUND"}]
    wrong_type = to_global_id("Device", "6b04a0a150efd230cf6578e1")
    bad = (await api.data(MARK_READ, {"id": wrong_type}, owner))["markNotificationRead"]
    assert bad["userErrors"][0]["code"] == "INVALID_ID"
    assert (await api.data(INBOX, {"unreadOnly": True}, owner))["unreadNotificationCount"] == 1


async def test_signed_out_requests_are_unauthenticated(api: Api) -> None:
    payload = await api.gql("{ unreadNotificationCount }")
    assert payload["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_preferences_round_trip(api: Api) -> None:
    token = await api.token("13800000001")
    setp = """mutation { setNotificationPreferences(input: {optedOutCategories: [POLICY, POLICY]})
        { preferences { optedOutCategories } userErrors { code } } }"""
    result = (await api.data(setp, token=token))["setNotificationPreferences"]
    assert result["preferences"] == {"optedOutCategories": ["POLICY"]}
    read = "{ notificationPreferences { optedOutCategories } }"
    assert (await api.data(read, token=token))["notificationPreferences"] == {
        "optedOutCategories": ["POLICY"]
    }
