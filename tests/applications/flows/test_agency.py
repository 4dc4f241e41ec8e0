"""帮办代办 through HTTP: a grant, the agent's submission as the principal's case, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from auth.identity_numbers import with_check_digit
from auth.models import AssuranceLevel, Role
from auth.service import UserSpec
from tests.applications.conftest import (
    APPLICATION,
    ELDER_CARD,
    SUBMIT,
    business_input,
    elder_input,
    errors,
    ref,
)
from tests.applications.test_submit import ELDER_ID
from tests.applications.uploading import upload_png
from tests.factories import Api, create_user

GRANT = """
mutation G($input: GrantAgencyInput!) {
  grantAgency(input: $input) {
    grant { id principalId principalName agentPhone matterCodes active }
    userErrors { field code message }
  }
}"""
REVOKE = """
mutation R($input: RevokeAgencyInput!) {
  revokeAgency(input: $input) { grant { id active revokedAt } userErrors { field code } }
}"""
TO_ME = "query { agencyGrantsToMe { id principalId principalName matterCodes } }"
GIVEN = "query { myAgencyGrants { nodes { id agentPhone active } } }"
AGENT_CASES = "query { myAgentApplications { nodes { id status submittedByAgent } } }"
MINE = "query { myApplications { nodes { id status submittedByAgent } } }"
AGENT = "13800000001"  # 张三明 helps his neighbour 王秀英


def soon(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def grant(api: Api, token: str, **input: Any) -> dict[str, Any]:
    data = await api.data(
        GRANT, {"input": {"agentPhone": AGENT, "expiresAt": soon(), **input}}, token
    )
    return dict(data["grantAgency"])


async def test_an_agent_submits_for_the_principal_who_owns_and_sees_the_case(
    api: Api, elder: str, citizen: str
) -> None:
    given = await grant(api, elder, matterCodes=[ELDER_CARD])
    assert given["userErrors"] == []
    assert given["grant"]["agentPhone"] == "138****0001"
    assert given["grant"]["principalName"] == "王*英"
    to_me = (await api.data(TO_ME, token=citizen))["agencyGrantsToMe"]
    assert [g["id"] for g in to_me] == [given["grant"]["id"]]
    principal = to_me[0]["principalId"]

    sub = {**elder_input("agent-0001", ELDER_ID), "onBehalfOf": principal}
    payload = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert payload["userErrors"] == []
    app = payload["application"]
    # 秒批 on the principal's verified identity: approved within the agent's request.
    assert app["status"] == "APPROVED"
    assert app["timeline"][0]["actorRole"] == "AGENT"

    owner_view = (await api.data(MINE, token=elder))["myApplications"]["nodes"]
    assert owner_view == [{"id": app["id"], "status": "APPROVED", "submittedByAgent": True}]
    assert (await api.data(MINE, token=citizen))["myApplications"]["nodes"] == []
    agent_view = (await api.data(AGENT_CASES, token=citizen))["myAgentApplications"]["nodes"]
    assert [a["id"] for a in agent_view] == [app["id"]]
    assert (await api.data(APPLICATION, {"id": app["id"]}, citizen))["application"] is not None

    # The principal is notified (inbox), the agent is not; the acts are audited.
    inbox = "query { inbox { nodes { body deepLink } } }"
    told = (await api.data(inbox, token=elder))["inbox"]["nodes"]
    assert any(app["id"] in (n["deepLink"] or "") for n in told)
    assert (await api.data(inbox, token=citizen))["inbox"]["nodes"] == []
    actions = {e["action"] async for e in api.state.db["audit_events"].find({})}
    assert {"applications.agency.grant", "applications.agency.submit"} <= actions

    # The agent's resend is idempotent; its key never meets the principal's own keys.
    again = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert again["application"]["id"] == app["id"]
    own = await api.data(SUBMIT, {"input": elder_input("agent-0001", ELDER_ID)}, elder)
    assert own["submitApplication"]["application"]["id"] != app["id"]

    # Revoking the authorisation ends the agent's sight of the case; the principal keeps it.
    revoked = await api.data(REVOKE, {"input": {"grantId": given["grant"]["id"]}}, elder)
    assert revoked["revokeAgency"]["userErrors"] == []
    assert (await api.data(AGENT_CASES, token=citizen))["myAgentApplications"]["nodes"] == []
    assert (await api.data(APPLICATION, {"id": app["id"]}, citizen))["application"] is None
    assert (await api.data(APPLICATION, {"id": app["id"]}, elder))["application"] is not None


async def test_no_revoked_expired_or_out_of_scope_grant_is_refused(
    api: Api, elder: str, citizen: str
) -> None:
    given = await grant(api, elder, matterCodes=[ELDER_CARD])
    principal = (await api.data(TO_ME, token=citizen))["agencyGrantsToMe"][0]["principalId"]

    async def attempt(key: str, data: dict[str, Any]) -> list[tuple[str | None, str]]:
        sub = {**data, "idempotencyKey": key, "onBehalfOf": principal}
        return errors((await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"])

    # Out of scope: the grant covers 老年人优待证 only.
    assert await attempt("agent-0010", business_input("x")) == [
        ("onBehalfOf", "AGENT_NOT_AUTHORISED")
    ]
    # A principal id that is no user id, or oneself.
    sub = {**elder_input("agent-0011", ELDER_ID), "onBehalfOf": "bm9wZQ=="}
    payload = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert errors(payload) == [("onBehalfOf", "AGENT_NOT_AUTHORISED")]
    # Expired.
    db = api.state.db
    past = datetime.now(UTC) - timedelta(minutes=1)
    await db["agency_grants"].update_one({}, {"$set": {"expires_at": past}})
    assert await attempt("agent-0012", elder_input("x", ELDER_ID)) == [
        ("onBehalfOf", "AGENT_NOT_AUTHORISED")
    ]
    assert (await api.data(TO_ME, token=citizen))["agencyGrantsToMe"] == []
    # Revoked (after restoring the expiry): refused, and a second revocation says so.
    await db["agency_grants"].update_one({}, {"$set": {"expires_at": past + timedelta(days=9)}})
    assert await attempt("agent-0013", elder_input("x", ELDER_ID)) == []
    revoked = await api.data(REVOKE, {"input": {"grantId": given["grant"]["id"]}}, elder)
    assert revoked["revokeAgency"]["grant"]["active"] is False
    assert await attempt("agent-0014", elder_input("x", ELDER_ID)) == [
        ("onBehalfOf", "AGENT_NOT_AUTHORISED")
    ]
    again = await api.data(REVOKE, {"input": {"grantId": given["grant"]["id"]}}, elder)
    assert errors(again["revokeAgency"]) == [("grantId", "ALREADY_REVOKED")]
    # Only the principal can revoke their grant.
    theirs = await api.data(REVOKE, {"input": {"grantId": given["grant"]["id"]}}, citizen)
    assert errors(theirs["revokeAgency"]) == [("grantId", "NOT_FOUND")]
    assert await db["applications"].count_documents({}) == 1
    assert [
        g["active"] for g in (await api.data(GIVEN, token=elder))["myAgencyGrants"]["nodes"]
    ] == [False]


async def test_bad_grants_get_typed_errors(api: Api, elder: str) -> None:
    cases: list[tuple[dict[str, Any], tuple[str, str]]] = [
        ({"agentPhone": "12345"}, ("agentPhone", "INVALID_PHONE")),
        ({"agentPhone": "13800000003"}, ("agentPhone", "INVALID_INPUT")),
        ({"expiresAt": soon(-1)}, ("expiresAt", "OUT_OF_RANGE")),
        ({"expiresAt": soon(400)}, ("expiresAt", "OUT_OF_RANGE")),
        ({"matterCodes": ["NOPE000000"]}, ("matterCodes[0]", "NOT_FOUND")),
    ]
    for extra, expected in cases:
        assert errors(await grant(api, elder, **extra)) == [expected], extra
    assert await api.state.db["agency_grants"].count_documents({}) == 0


async def test_an_agent_may_attach_own_uploads_but_not_a_strangers(
    api: Api, elder: str, citizen: str
) -> None:
    given = await grant(api, elder, matterCodes=[ELDER_CARD])
    principal = given["grant"]["principalId"]
    sub = {**elder_input("agent-up-01", ELDER_ID), "onBehalfOf": principal}
    # The agent photographed the principal: the agent's own upload may serve.
    sub["materials"][1]["reference"] = ref("file-1")
    payload = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert payload["userErrors"] == []
    # A third person's upload never does.
    stranger = UserSpec(
        "13800000278", (Role.CITIZEN,), AssuranceLevel.L3, "钱七",
        with_check_digit("37020219900101456"), "370202",
    )  # fmt: skip
    await create_user(api.state, stranger)
    theirs = await upload_png(api, await api.token(stranger.phone), "stranger")
    sub = {**elder_input("agent-up-02", ELDER_ID), "onBehalfOf": principal}
    sub["materials"][1]["reference"] = theirs
    payload = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert errors(payload) == [("materials[1].reference", "FORBIDDEN_MATERIAL")]
