"""帮办代办: the agent is told when the principal revokes a grant in force; the principal's
answer is the same whether the agent's phone has an account or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.applications.flows.test_agency import GRANT, REVOKE, grant, soon
from tests.factories import Api

INBOX = "query { inbox { nodes { title body deepLink } } }"
UNREGISTERED = "13800000777"  # nobody's account


def _shape(payload: dict[str, Any]) -> dict[str, Any]:
    """What the principal sees, without the ids and times that differ anyway."""
    grant = payload["grant"]
    return {"active": grant["active"], "errors": payload["userErrors"], "keys": sorted(grant)}


async def _revoke(api: Api, token: str, grant_id: str) -> dict[str, Any]:
    return dict((await api.data(REVOKE, {"input": {"grantId": grant_id}}, token))["revokeAgency"])


async def test_the_agent_is_told_once_and_the_principal_learns_nothing(
    api: Api, elder: str, citizen: str
) -> None:
    to_agent = await grant(api, elder)
    registered = await _revoke(api, elder, to_agent["grant"]["id"])
    inbox = (await api.data(INBOX, token=citizen))["inbox"]["nodes"]
    [notice] = [n for n in inbox if n["title"] == "代办授权已撤销"]
    assert "王*英" in notice["body"]  # the principal, masked
    assert notice["deepLink"] == "zsb://agency"
    again = await _revoke(api, elder, to_agent["grant"]["id"])
    assert again["userErrors"] == [{"field": "grantId", "code": "ALREADY_REVOKED"}]
    inbox = (await api.data(INBOX, token=citizen))["inbox"]["nodes"]
    assert sum(n["title"] == "代办授权已撤销" for n in inbox) == 1

    # A number without an account: nothing is sent, and the principal cannot tell.
    db = api.state.db
    sent = await db["notifications"].count_documents({})
    queued = await db["notification_outbox"].count_documents({})
    variables = {"input": {"agentPhone": UNREGISTERED, "expiresAt": soon()}}
    nobody = (await api.data(GRANT, variables, elder))["grantAgency"]
    unregistered = await _revoke(api, elder, nobody["grant"]["id"])
    assert _shape(unregistered) == _shape(registered)
    assert await db["notifications"].count_documents({}) == sent
    assert await db["notification_outbox"].count_documents({}) == queued
    principal_inbox = (await api.data(INBOX, token=elder))["inbox"]["nodes"]
    assert not [n for n in principal_inbox if "代办授权" in n["title"]]


async def test_an_expired_grant_revoked_tells_nobody(api: Api, elder: str, citizen: str) -> None:
    given = await grant(api, elder)
    past = datetime.now(UTC) - timedelta(minutes=1)
    await api.state.db["agency_grants"].update_one({}, {"$set": {"expires_at": past}})
    assert (await _revoke(api, elder, given["grant"]["id"]))["userErrors"] == []
    inbox = (await api.data(INBOX, token=citizen))["inbox"]["nodes"]
    assert not [n for n in inbox if n["title"] == "代办授权已撤销"]
