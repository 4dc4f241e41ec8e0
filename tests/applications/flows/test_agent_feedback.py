"""帮办代办 and 投诉/办不成事: the agent who submitted a case for a principal files a complaint or
a 办不成事 report about it under a grant in force; the ticket is the principal's, records the
agent, is audited and told to the principal. Outside a grant, the agent's other refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.ids import object_id_from_global
from tests.applications.conftest import ELDER_CARD, business_input, errors
from tests.applications.flows.test_agent_act_race import revoke_after_the_check
from tests.applications.flows.test_agent_acts import (
    AGENT,
    agent_notices,
    grant,
    revoke,
    submit_for,
    user_id,
)
from tests.applications.flows.test_tickets import CLOSE
from tests.factories import Api, create_demo_user

FIELDS = """id kind status departmentCode applicationId onBehalfOf reply
            history { action actorRole onBehalfOf }"""
FEEDBACK = f"""
mutation F($input: SubmitFeedbackInput!) {{
  submitFeedback(input: $input) {{ ticket {{ {FIELDS} }} userErrors {{ field code }} }}
}}"""
TICKET = f"query T($id: ID!) {{ ticket(id: $id) {{ {FIELDS} }} }}"
MY_FEEDBACK = "query { myFeedback { nodes { id kind onBehalfOf reply } } }"


async def feedback(api: Api, token: str, app_id: str, kind: str, key: str) -> dict[str, Any]:
    variables = {
        "input": {"kind": kind, "content": "窗口要求老人本人到场", "idempotencyKey": key}
        | {"applicationId": app_id}
    }
    return dict((await api.data(FEEDBACK, variables, token))["submitFeedback"])


async def test_an_agent_files_a_complaint_and_a_cannot_get_done_report_for_the_principal(
    api: Api, elder: str, citizen: str, supervisor: str
) -> None:
    given = await grant(api, elder)
    principal = given["principalId"]
    app_id = await submit_for(api, citizen, principal, business_input("agent-fb-01"))
    db = api.state.db

    filed = await feedback(api, citizen, app_id, "COMPLAINT", "agent-fb-key-1")
    assert filed["userErrors"] == []
    ticket = filed["ticket"]
    assert ticket["applicationId"] == app_id
    assert ticket["onBehalfOf"] == principal
    assert ticket["history"] == [{"action": "OPEN", "actorRole": "AGENT", "onBehalfOf": principal}]
    # A retry is the same ticket, and the principal is told once.
    again = await feedback(api, citizen, app_id, "COMPLAINT", "agent-fb-key-1")
    assert again["ticket"]["id"] == ticket["id"]
    stuck = (await feedback(api, citizen, app_id, "CANNOT_GET_DONE", "agent-fb-key-2"))["ticket"]
    assert stuck["onBehalfOf"] == principal

    # Stored as the principal's ticket, filed by the agent.
    agent_oid = await user_id(api, AGENT)
    principal_oid = object_id_from_global(principal, "User")
    doc = await db["application_tickets"].find_one(
        {"_id": object_id_from_global(ticket["id"], "Ticket")}
    )
    assert doc is not None
    assert (doc["reporter_id"], doc["agent_id"]) == (principal_oid, agent_oid)
    assert (doc["history"][0]["actor_id"], doc["history"][0]["on_behalf_of"]) == (
        agent_oid,
        principal_oid,
    )

    # The principal sees both and is told of each; the agent's own list stays theirs.
    theirs = (await api.data(MY_FEEDBACK, token=elder))["myFeedback"]["nodes"]
    assert {(t["id"], t["onBehalfOf"]) for t in theirs} == {
        (ticket["id"], principal),
        (stuck["id"], principal),
    }
    assert (await api.data(MY_FEEDBACK, token=citizen))["myFeedback"]["nodes"] == []
    told = await agent_notices(api, elder)
    assert sum("代为投诉" in body for body in told) == 1
    assert sum("代为反映“办不成事”" in body for body in told) == 1
    assert await agent_notices(api, citizen) == []
    audited = {e["action"] async for e in db["audit_events"].find({"actor_id": agent_oid})}
    assert {"applications.agency.complaint", "applications.agency.cannot_get_done"} <= audited

    # The department replies to the principal; the agent reads the ticket while authorised.
    closed = await api.data(
        CLOSE, {"input": {"ticketId": ticket["id"], "reply": "已改进"}}, supervisor
    )
    assert closed["closeTicket"]["userErrors"] == []
    replied = (await api.data(MY_FEEDBACK, token=elder))["myFeedback"]["nodes"]
    assert {t["reply"] for t in replied if t["id"] == ticket["id"]} == {"已改进"}
    read = (await api.data(TICKET, {"id": ticket["id"]}, citizen))["ticket"]
    assert read["reply"] == "已改进"
    await revoke(api, elder, given["id"])
    assert (await api.data(TICKET, {"id": ticket["id"]}, citizen))["ticket"] is None
    assert (await api.data(TICKET, {"id": ticket["id"]}, elder))["ticket"]["id"] == ticket["id"]


async def test_agent_feedback_is_refused_outside_the_grant_and_writes_nothing(
    api: Api, elder: str, citizen: str, clerk: str
) -> None:
    first = await grant(api, elder)
    principal = first["principalId"]
    app_id = await submit_for(api, citizen, principal, business_input("agent-fb-02"))
    db = api.state.db
    refused = [("applicationId", "AGENT_NOT_AUTHORISED")]

    async def codes(token: str, kind: str = "COMPLAINT") -> list[tuple[str | None, str]]:
        return errors(await feedback(api, token, app_id, kind, f"agent-fb-{kind[:4]}-x"))

    # A suggestion is one's own, even under a grant in force.
    assert await codes(citizen, "SUGGESTION") == [("kind", "INVALID_KIND")]
    # Out of scope: the grant in force covers 老年人优待证 only.
    await revoke(api, elder, first["id"])
    narrow = await grant(api, elder, matterCodes=[ELDER_CARD])
    assert await codes(citizen) == refused
    # Expired, then revoked.
    await revoke(api, elder, narrow["id"])
    wide = await grant(api, elder)
    past = {"$set": {"expires_at": datetime.now(UTC) - timedelta(minutes=1)}}
    await db["agency_grants"].update_one(
        {"_id": object_id_from_global(wide["id"], "AgencyGrant")}, past
    )
    assert await codes(citizen, "CANNOT_GET_DONE") == refused
    await revoke(api, elder, wide["id"])
    assert await codes(citizen) == refused
    # In force again, but the agent is below real-name assurance (L2).
    await grant(api, elder)
    await db["users"].update_one(
        {"_id": await user_id(api, AGENT)}, {"$set": {"assurance_level": "L1"}}
    )
    weak = (
        await api.state.auth_service().open_session_for_phone(AGENT, method="test")
    ).access_token
    assert await codes(weak) == refused
    # Not the case's agent: as for anyone else's case, it does not exist for them.
    await create_demo_user(api.state, "13800000002")
    stranger = await api.token("13800000002")
    assert await codes(stranger) == [("applicationId", "NOT_FOUND")]
    assert await codes(clerk) == [("applicationId", "NOT_FOUND")]
    # Every refusal wrote nothing and told nobody.
    assert await db["application_tickets"].count_documents({}) == 0
    assert not [b for b in await agent_notices(api, elder) if "代为投诉" in b or "办不成事" in b]
    # The agent's real-name session passes now: the refusals were the grant's and the L1's.
    assert await codes(citizen) == []


async def test_a_revocation_after_the_check_refuses_the_agents_ticket(
    api: Api, elder: str, citizen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As for the agent's other acts (test_agent_act_race.py): the grant is re-checked in the
    ticket's own transaction, so a revocation committed right after `acting` checked it
    refuses the ticket, and nothing is written or told."""
    principal = (await grant(api, elder))["principalId"]
    app_id = await submit_for(api, citizen, principal, business_input("agent-fb-03"))
    revoke_after_the_check(monkeypatch, api, principal=elder)
    refused = await feedback(api, citizen, app_id, "COMPLAINT", "agent-fb-race-1")
    assert errors(refused) == [("applicationId", "AGENT_NOT_AUTHORISED")]
    assert refused["ticket"] is None
    assert await api.state.db["application_tickets"].count_documents({}) == 0
    assert not [b for b in await agent_notices(api, elder) if "代为投诉" in b]
    # The principal's own complaint about the case is not an agent's act: no grant involved.
    own = await feedback(api, elder, app_id, "COMPLAINT", "agent-fb-race-2")
    assert own["userErrors"] == []
    assert own["ticket"]["onBehalfOf"] is None


async def test_an_agents_tickets_count_against_the_agent_not_the_principal(
    api: Api, elder: str, citizen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daily limit is the filer's: an agent cannot use up the principal's own allowance
    (a grantee denying the principal their own complaints)."""
    monkeypatch.setattr("applications.feedback.DAILY_FEEDBACK_LIMIT", 2)
    given = await grant(api, elder)
    app_id = await submit_for(api, citizen, given["principalId"], business_input("agent-fb-lim"))
    for n in range(2):
        assert (await feedback(api, citizen, app_id, "COMPLAINT", f"agent-lim-{n}"))[
            "userErrors"
        ] == []
    over = await feedback(api, citizen, app_id, "COMPLAINT", "agent-lim-2")
    assert errors(over) == [("content", "RATE_LIMITED")]
    # The principal's own allowance is untouched by the agent's two.
    own = {"kind": "SUGGESTION", "content": "希望增加夜间窗口", "idempotencyKey": "own-lim-0"}
    mine = (await api.data(FEEDBACK, {"input": {**own, "departmentCode": "370200-GAJ"}}, elder))[
        "submitFeedback"
    ]
    assert mine["userErrors"] == [], mine


async def test_an_agent_lists_the_tickets_they_filed_while_authorised(
    api: Api, elder: str, citizen: str
) -> None:
    given = await grant(api, elder)
    app_id = await submit_for(api, citizen, given["principalId"], business_input("agent-fb-list"))
    filed = (await feedback(api, citizen, app_id, "COMPLAINT", "agent-list-1"))["ticket"]
    own = {"kind": "SUGGESTION", "content": "希望增加夜间窗口", "idempotencyKey": "own-list-0"}
    await api.data(FEEDBACK, {"input": {**own, "departmentCode": "370200-GAJ"}}, citizen)
    listed = "query { myAgentFeedback { nodes { id onBehalfOf } } }"
    nodes = (await api.data(listed, token=citizen))["myAgentFeedback"]["nodes"]
    # Only what the agent filed for the principal (not the agent's own suggestion).
    assert nodes == [{"id": filed["id"], "onBehalfOf": given["principalId"]}]
    # The principal has none filed as an agent; a revocation ends the agent's sight.
    assert (await api.data(listed, token=elder))["myAgentFeedback"]["nodes"] == []
    await revoke(api, elder, given["id"])
    assert (await api.data(listed, token=citizen))["myAgentFeedback"]["nodes"] == []
