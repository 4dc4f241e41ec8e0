"""帮办代办 after submission: the agent's 容缺 supplement, 补正 resubmission, withdrawal and
一件事 bundle for the principal, each within a grant in force, on the timeline as AGENT acts,
told to the principal; rating refused; refusals outside the grant; no access to the vault."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId

from app.ids import object_id_from_global
from tests.applications.conftest import (
    APPLICATION,
    BUSINESS,
    ELDER_CARD,
    SUBMIT,
    business_input,
    elder_input,
    errors,
    ref,
)
from tests.applications.flows.conftest import restaurant_input
from tests.applications.flows.test_agency import GRANT, REVOKE, soon
from tests.applications.test_followup import RATE, RESUBMIT, RETURN, SUPPLEMENT, property_input
from tests.applications.test_materials import bearer
from tests.applications.test_process import ACCEPT, APPROVE, WITHDRAW, act
from tests.applications.test_submit import ELDER_ID
from tests.factories import Api, create_demo_user

AGENT = "13800000001"  # 张三明 (the citizen fixture), agent of 王秀英 (the elder fixture)
TIMELINE = """
query App($id: ID!) {
  application(id: $id) { id status timeline { action actorRole onBehalfOf } }
}"""
INBOX = "query { inbox(first: 50) { nodes { title body deepLink } } }"
BUNDLE = """
mutation B($input: SubmitBundleInput!) {
  submitBundle(input: $input) {
    bundle { id status members { id matterCode submittedByAgent
                                 timeline { action actorRole onBehalfOf } } }
    userErrors { field code }
  }
}"""
READ_BUNDLE = "query R($id: ID!) { bundleApplication(id: $id) { id } }"


async def user_id(api: Api, phone: str) -> ObjectId:
    user = await api.state.auth_service().find_user_by_phone(phone)
    assert user is not None
    return user.id


async def grant(api: Api, principal: str, **input: Any) -> dict[str, Any]:
    variables = {"input": {"agentPhone": AGENT, "expiresAt": soon(), **input}}
    payload = (await api.data(GRANT, variables, principal))["grantAgency"]
    assert payload["userErrors"] == [], payload
    return dict(payload["grant"])


async def revoke(api: Api, principal: str, grant_id: str) -> None:
    payload = await api.data(REVOKE, {"input": {"grantId": grant_id}}, principal)
    assert payload["revokeAgency"]["userErrors"] == []


async def submit_for(api: Api, agent: str, principal_id: str, sub: dict[str, Any]) -> str:
    payload = await api.data(SUBMIT, {"input": {**sub, "onBehalfOf": principal_id}}, agent)
    assert payload["submitApplication"]["userErrors"] == [], payload
    return str(payload["submitApplication"]["application"]["id"])


async def last_event(api: Api, token: str, app_id: str) -> dict[str, Any]:
    app = (await api.data(TIMELINE, {"id": app_id}, token))["application"]
    return dict(app["timeline"][-1])


async def agent_notices(api: Api, token: str) -> list[str]:
    nodes = (await api.data(INBOX, token=token))["inbox"]["nodes"]
    return [n["body"] for n in nodes if "代办人" in n["body"]]


async def test_an_agent_supplements_resubmits_and_withdraws_for_the_principal(
    api: Api, elder: str, citizen: str, clerk: str
) -> None:
    principal = (await grant(api, elder))["principalId"]
    db = api.state.db

    # 容缺: the agent submits with a deferral, the clerk accepts, the agent supplies the rest
    # (an upload of the agent's own, made for the principal).
    deferred = await submit_for(api, citizen, principal, property_input("agent-act-01"))
    accepted = await act(api, ACCEPT, clerk, applicationId=deferred)
    assert accepted["application"]["status"] == "ACCEPTED_PENDING_SUPPLEMENT"
    supplied = await act(
        api,
        SUPPLEMENT,
        citizen,
        applicationId=deferred,
        materials=[{"name": "完税凭证", "provision": "UPLOAD", "reference": ref("t")}],
    )
    assert supplied["userErrors"] == []
    assert supplied["application"]["status"] == "ACCEPTED"
    assert await last_event(api, elder, deferred) == {
        "action": "SUPPLEMENT",
        "actorRole": "AGENT",
        "onBehalfOf": principal,
    }

    # 一次补正: returned, the agent corrects and resubmits; then withdraws it.
    returned = await submit_for(api, citizen, principal, business_input("agent-act-02"))
    await act(api, RETURN, clerk, applicationId=returned, deficiencies=["经营范围填写不规范"])
    base = business_input("unused")
    again = await act(
        api,
        RESUBMIT,
        citizen,
        applicationId=returned,
        form={**base["form"], "businessScope": "餐饮服务（小吃）"},
        materials=base["materials"],
    )
    assert again["userErrors"] == []
    assert again["application"]["status"] == "SUBMITTED"
    assert (await last_event(api, citizen, returned))["actorRole"] == "AGENT"
    gone = await act(api, WITHDRAW, citizen, applicationId=returned, reason="申请人不再需要")
    assert gone["userErrors"] == []
    assert gone["application"]["status"] == "WITHDRAWN"
    assert await last_event(api, elder, returned) == {
        "action": "WITHDRAW",
        "actorRole": "AGENT",
        "onBehalfOf": principal,
    }

    # Stored: the agent is the actor, the principal who it was for; the case stays theirs.
    agent_id = await user_id(api, AGENT)
    principal_oid = object_id_from_global(principal, "User")
    doc = await db["applications"].find_one({"_id": object_id_from_global(returned, "Application")})
    assert doc is not None
    assert doc["applicant_id"] == principal_oid
    agent_events = [e for e in doc["timeline"] if e["actor_role"] == "AGENT"]
    assert [e["action"] for e in agent_events] == ["SUBMIT", "RESUBMIT", "WITHDRAW"]
    assert {(e["actor_id"], e["on_behalf_of"]) for e in agent_events} == {(agent_id, principal_oid)}

    # The principal is told of every act, the agent of none; each act is audited.
    told = await agent_notices(api, elder)
    for act_name in ("代为提交申请", "代为补交材料", "代为补正并重新提交", "代为撤回申请"):
        assert any(act_name in body for body in told), (act_name, told)
    assert len(told) == 5  # two submissions, a supplement, a resubmission, a withdrawal
    assert await agent_notices(api, citizen) == []
    actions = {e["action"] async for e in db["audit_events"].find({"actor_id": agent_id})}
    assert {
        "applications.agency.submit",
        "applications.agency.supplement",
        "applications.agency.resubmit",
        "applications.agency.withdraw",
    } <= actions


async def test_rating_stays_the_principals_own_act(
    api: Api, elder: str, citizen: str, clerk: str
) -> None:
    principal = (await grant(api, elder))["principalId"]
    app_id = await submit_for(api, citizen, principal, business_input("agent-rate-1"))
    await act(api, ACCEPT, clerk, applicationId=app_id)
    await act(api, APPROVE, clerk, applicationId=app_id)
    refused = await act(api, RATE, citizen, applicationId=app_id, score=5)
    assert errors(refused) == [("applicationId", "AGENT_CANNOT_RATE")]
    assert refused["application"] is None
    rated = await act(api, RATE, elder, applicationId=app_id, score=4)
    assert rated["userErrors"] == []
    assert rated["application"]["rating"]["score"] == 4


async def test_agent_acts_are_refused_outside_the_grant(
    api: Api, elder: str, citizen: str, clerk: str
) -> None:
    first = await grant(api, elder)  # every matter
    principal = first["principalId"]
    app_id = await submit_for(api, citizen, principal, business_input("agent-out-01"))
    other_id = await submit_for(api, citizen, principal, business_input("agent-out-02"))
    db = api.state.db

    async def withdraw(token: str, target: str = app_id) -> list[tuple[str | None, str]]:
        return errors(await act(api, WITHDRAW, token, applicationId=target))

    refused = [("applicationId", "AGENT_NOT_AUTHORISED")]
    # Another matter: the grant in force covers 老年人优待证 only.
    await revoke(api, elder, first["id"])
    narrow = await grant(api, elder, matterCodes=[ELDER_CARD])
    assert await withdraw(citizen) == refused
    base = business_input("unused")
    resubmit = await act(
        api, RESUBMIT, citizen, applicationId=app_id, form=base["form"], materials=[]
    )
    assert errors(resubmit) == refused
    supplement = await act(
        api,
        SUPPLEMENT,
        citizen,
        applicationId=app_id,
        materials=[{"name": "完税凭证", "provision": "UPLOAD", "reference": ref("t")}],
    )
    assert errors(supplement) == refused
    assert (await api.data(APPLICATION, {"id": app_id}, citizen))["application"] is None
    # Expired.
    await revoke(api, elder, narrow["id"])
    wide = await grant(api, elder)
    past = {"$set": {"expires_at": datetime.now(UTC) - timedelta(minutes=1)}}
    wide_id = object_id_from_global(wide["id"], "AgencyGrant")
    await db["agency_grants"].update_one({"_id": wide_id}, past)
    assert await withdraw(citizen) == refused
    # Revoked outright (refusals above left the cases as they were: still the principal's).
    await revoke(api, elder, wide["id"])
    assert await withdraw(citizen) == refused
    mine = "query { myApplications { nodes { id status } } }"
    cases = (await api.data(mine, token=elder))["myApplications"]["nodes"]
    assert {(c["id"], c["status"]) for c in cases} == {
        (app_id, "SUBMITTED"),
        (other_id, "SUBMITTED"),
    }
    # With a grant in force again the same act passes (so the refusals were the grant's)...
    await grant(api, elder)
    assert await withdraw(citizen) == []
    # ...but not for an agent below real-name assurance (L2), nor for a stranger.
    weaker = {"$set": {"assurance_level": "L1"}}
    await db["users"].update_one({"_id": await user_id(api, AGENT)}, weaker)
    weak = (
        await api.state.auth_service().open_session_for_phone(AGENT, method="test")
    ).access_token
    assert await withdraw(weak, other_id) == refused
    await create_demo_user(api.state, "13800000002")
    stranger = await api.token("13800000002")
    assert await withdraw(stranger, other_id) == [("applicationId", "NOT_FOUND")]
    assert await withdraw(clerk, other_id) == [("applicationId", "NOT_FOUND")]


async def test_an_agent_submits_a_bundle_only_under_one_grant_covering_every_member(
    api: Api, elder: str, citizen: str
) -> None:
    scoped = await grant(api, elder, matterCodes=[BUSINESS])  # one member only
    principal = scoped["principalId"]
    sub = {**restaurant_input("agent-bundle-1"), "onBehalfOf": principal}
    payload = (await api.data(BUNDLE, {"input": sub}, citizen))["submitBundle"]
    assert errors(payload) == [("onBehalfOf", "AGENT_NOT_AUTHORISED")]
    db = api.state.db
    assert await db["application_bundles"].count_documents({}) == 0
    assert await db["applications"].count_documents({}) == 0

    await grant(api, elder)
    payload = (await api.data(BUNDLE, {"input": sub}, citizen))["submitBundle"]
    assert payload["userErrors"] == [], payload
    bundle = payload["bundle"]
    assert len(bundle["members"]) == 2
    for member in bundle["members"]:
        assert member["submittedByAgent"] is True
        assert member["timeline"][0]["actorRole"] == "AGENT"
        assert member["timeline"][0]["onBehalfOf"] == principal
    # The bundle and its members are the principal's; the agent reads it while authorised.
    principal_oid = object_id_from_global(principal, "User")
    assert await db["applications"].count_documents({"applicant_id": principal_oid}) == 2
    theirs = (await api.data("query { myBundles { nodes { id } } }", token=elder))["myBundles"]
    assert [b["id"] for b in theirs["nodes"]] == [bundle["id"]]
    assert (await api.data(READ_BUNDLE, {"id": bundle["id"]}, citizen))["bundleApplication"]
    again = (await api.data(BUNDLE, {"input": sub}, citizen))["submitBundle"]
    assert again["bundle"]["id"] == bundle["id"]  # the agent's retry is idempotent
    told = await agent_notices(api, elder)
    assert [b for b in told if "代为提交一件事申请" in b]
    assert len(told) == 1

    for g in (await api.data("query { myAgencyGrants { nodes { id active } } }", token=elder))[
        "myAgencyGrants"
    ]["nodes"]:
        if g["active"]:
            await revoke(api, elder, g["id"])
    assert (await api.data(READ_BUNDLE, {"id": bundle["id"]}, citizen))["bundleApplication"] is None
    assert (await api.data(READ_BUNDLE, {"id": bundle["id"]}, elder))["bundleApplication"]
    retried = (await api.data(BUNDLE, {"input": sub}, citizen))["submitBundle"]
    assert errors(retried) == [("onBehalfOf", "AGENT_NOT_AUTHORISED")]


async def test_the_agent_never_reads_the_principals_vault(
    api: Api, elder: str, citizen: str
) -> None:
    principal = (await grant(api, elder))["principalId"]
    theirs = ref("photo-1")  # in the principal's vault
    # The agent may attach it (the principal handed it over) but never read or list it.
    app_id = await submit_for(api, citizen, principal, elder_input("agent-vault-1", ELDER_ID))
    assert (
        await api.client.get(f"/materials/{theirs}", headers=bearer(citizen))
    ).status_code == 404
    vault = "query { myMaterials { nodes { id } } }"
    assert theirs not in {
        m["id"] for m in (await api.data(vault, token=citizen))["myMaterials"]["nodes"]
    }
    assert (await api.client.get(f"/materials/{theirs}", headers=bearer(elder))).status_code == 200

    # What the agent uploaded for the principal's case stays in the agent's vault, and the
    # principal may read it as the case's applicant; a stranger may not.
    sub = elder_input("agent-vault-2", ELDER_ID)
    sub["materials"][1]["reference"] = ref("file-1")  # the agent's own upload
    await submit_for(api, citizen, principal, sub)
    mine = ref("file-1")
    assert (await api.client.get(f"/materials/{mine}", headers=bearer(elder))).status_code == 200
    assert (await api.client.get(f"/materials/{mine}", headers=bearer(citizen))).status_code == 200
    await create_demo_user(api.state, "13800000002")
    stranger = await api.token("13800000002")
    assert (await api.client.get(f"/materials/{mine}", headers=bearer(stranger))).status_code == 404
    assert app_id
