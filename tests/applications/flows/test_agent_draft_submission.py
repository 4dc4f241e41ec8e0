"""帮办代办: an agent submits the principal's draft (with files), the grant re-checked in the
draft's update (store.update_requiring); a revocation racing it refuses it, nothing kept."""

from __future__ import annotations

import pytest

from app.ids import object_id_from_global
from tests.applications.conftest import BUSINESS, CITIZEN, errors
from tests.applications.flows.test_agency import GRANT, TO_ME, soon
from tests.applications.flows.test_agent_act_race import revoke_after_the_submission_check
from tests.applications.test_drafts import SAVE as SAVE_DRAFT
from tests.applications.test_inline_files import (
    TWO_FILES,
    TWO_MAPPED,
    business_with_two_files,
    post_submit,
    stored,
)
from tests.factories import Api


async def _setup(api: Api, elder: str, citizen: str) -> tuple[str, str, str]:
    given = await api.data(
        GRANT,
        {"input": {"agentPhone": CITIZEN, "expiresAt": soon(), "matterCodes": [BUSINESS]}},
        elder,
    )
    assert given["grantAgency"]["userErrors"] == []
    grant_id = given["grantAgency"]["grant"]["id"]
    principal = (await api.data(TO_ME, token=citizen))["agencyGrantsToMe"][0]["principalId"]
    saved = await api.data(
        SAVE_DRAFT, {"input": {"matterCode": BUSINESS, "form": {"businessName": "张记"}}}, elder
    )
    draft = saved["saveApplicationDraft"]["application"]["id"]
    return principal, draft, grant_id


async def test_an_agent_submits_the_principals_draft_with_files(
    api: Api, elder: str, citizen: str
) -> None:
    principal, draft, grant_id = await _setup(api, elder, citizen)
    sub = {**business_with_two_files("agent-draft-1"), "draftId": draft, "onBehalfOf": principal}
    payload = await post_submit(api, citizen, sub, TWO_FILES, TWO_MAPPED)
    assert payload["userErrors"] == []
    assert payload["application"]["id"] == draft
    db = api.state.db
    doc = await db["applications"].find_one({"_id": object_id_from_global(draft, "Application")})
    assert doc is not None
    assert doc["status"] == "SUBMITTED"
    g = await db["agency_grants"].find_one({"_id": object_id_from_global(grant_id, "AgencyGrant")})
    assert g is not None
    assert g.get("acts") == 1
    # a resend: the same case, the grant's acts not counted again
    again = await post_submit(api, citizen, sub, TWO_FILES, TWO_MAPPED)
    assert again["userErrors"] == []
    assert again["application"]["id"] == draft
    g = await db["agency_grants"].find_one({"_id": object_id_from_global(grant_id, "AgencyGrant")})
    assert g is not None
    assert g.get("acts") == 1


async def test_a_revocation_racing_an_agents_draft_submission_with_files(
    api: Api, elder: str, citizen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    principal, draft, _ = await _setup(api, elder, citizen)
    revoke_after_the_submission_check(monkeypatch, api, elder)
    before = await stored(api)
    sub = {**business_with_two_files("agent-draft-2"), "draftId": draft, "onBehalfOf": principal}
    payload = await post_submit(api, citizen, sub, TWO_FILES, TWO_MAPPED)
    assert errors(payload) == [("onBehalfOf", "AGENT_NOT_AUTHORISED")]
    db = api.state.db
    doc = await db["applications"].find_one({"_id": object_id_from_global(draft, "Application")})
    assert doc is not None
    assert doc["status"] == "DRAFT"
    assert await stored(api) == before  # the files kept for the step path are removed again
    assert await db["material_uploads"].count_documents({"attached_to": {"$ne": []}}) == 0
