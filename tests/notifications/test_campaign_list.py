"""The operators' campaign list (the console's approval queue): who sees it, order, filter."""

from __future__ import annotations

from tests.factories import Api, create_demo_user
from tests.notifications.test_campaigns import APPROVE, _citizens, _create, _operators

CAMPAIGNS = """
query($status: CampaignStatus, $first: Int, $after: String) {
  campaigns(status: $status, first: $first, after: $after) {
    nodes { id title status createdByMe }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def test_operators_list_campaigns_newest_first_and_see_which_are_theirs(api: Api) -> None:
    await _citizens(api.state)
    creator, checker = await _operators(api)
    first = await _create(api, creator, {"all": True})
    second = await _create(api, checker, {"regionCodes": ["370202"]})
    ok = (await api.data(APPROVE, {"id": first["id"]}, checker))["approveCampaign"]
    assert ok["userErrors"] == []

    everything = (await api.data(CAMPAIGNS, {}, creator))["campaigns"]
    assert [(c["id"], c["createdByMe"]) for c in everything["nodes"]] == [
        (second["id"], False),
        (first["id"], True),
    ]
    pending = (await api.data(CAMPAIGNS, {"status": "PENDING_APPROVAL"}, creator))["campaigns"]
    assert [c["id"] for c in pending["nodes"]] == [second["id"]]

    page = (await api.data(CAMPAIGNS, {"first": 1}, checker))["campaigns"]
    assert page["pageInfo"]["hasNextPage"] is True
    assert [c["createdByMe"] for c in page["nodes"]] == [True]
    rest = await api.data(CAMPAIGNS, {"first": 1, "after": page["pageInfo"]["endCursor"]}, checker)
    assert [c["id"] for c in rest["campaigns"]["nodes"]] == [first["id"]]


async def test_only_operators_see_campaigns(api: Api) -> None:
    await create_demo_user(api.state, "13800000001")
    citizen = await api.token("13800000001")
    answer = await api.gql(CAMPAIGNS, {}, citizen)
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await api.gql(CAMPAIGNS, {})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
