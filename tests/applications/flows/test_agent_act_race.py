"""帮办代办: a revocation that lands after an agent's act checked its grant, but before the act
moved the case, refuses the act (the grant is re-checked in the move's transaction,
`store.Requirement`). The interleaving is driven deterministically: the check itself is wrapped
so that the principal's revocation commits right after it returns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.ids import object_id_from_global, to_global_id
from applications.agency import Acting, AgencyDesk
from applications.models import Application
from auth.permissions import Viewer
from tests.applications.conftest import SUBMIT, business_input, errors, ref
from tests.applications.flows.test_agent_acts import agent_notices, grant, revoke, submit_for
from tests.applications.test_followup import RESUBMIT, RETURN, SUPPLEMENT, property_input
from tests.applications.test_process import ACCEPT, WITHDRAW, act
from tests.factories import Api

REFUSED = [("applicationId", "AGENT_NOT_AUTHORISED")]
Act = Callable[[str], Awaitable[dict[str, Any]]]


def revoke_after_the_check(monkeypatch: pytest.MonkeyPatch, api: Api, principal: str) -> None:
    """Every agent's `acting` check returns a grant in force, and the principal revokes that
    grant (through the API, committed) before the act goes on to move the case."""
    checked = AgencyDesk.acting

    async def then_revoked(self: AgencyDesk, viewer: Viewer, app: Application) -> Acting:
        found = await checked(self, viewer, app)
        if found.grant is not None:
            await revoke(api, principal, to_global_id("AgencyGrant", found.grant.id))
        return found

    monkeypatch.setattr(AgencyDesk, "acting", then_revoked)


def revoke_after_the_submission_check(
    monkeypatch: pytest.MonkeyPatch, api: Api, principal: str
) -> None:
    """Every agent's submission finds a grant in force (`principal_of`), and the principal
    revokes that grant (through the API, committed) before the case is written."""
    checked = AgencyDesk.principal_of

    async def then_revoked(
        self: AgencyDesk, agent: Viewer, on_behalf_of: str, codes: list[str]
    ) -> Any:
        found = await checked(self, agent, on_behalf_of, codes)
        await revoke(api, principal, to_global_id("AgencyGrant", found[1].id))
        return found

    monkeypatch.setattr(AgencyDesk, "principal_of", then_revoked)


async def _stored(api: Api, app_id: str) -> dict[str, Any]:
    doc = await api.state.db["applications"].find_one(
        {"_id": object_id_from_global(app_id, "Application")}
    )
    assert doc is not None
    return doc


async def test_a_revocation_between_the_check_and_the_move_refuses_the_act(
    api: Api, elder: str, citizen: str, clerk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await grant(api, elder)
    principal = first["principalId"]
    # One case per act, each in the state the act needs.
    to_withdraw = await submit_for(api, citizen, principal, business_input("agent-race-01"))
    to_supplement = await submit_for(api, citizen, principal, property_input("agent-race-02"))
    await act(api, ACCEPT, clerk, applicationId=to_supplement)  # 容缺: 完税凭证 pending
    to_resubmit = await submit_for(api, citizen, principal, business_input("agent-race-03"))
    await act(api, RETURN, clerk, applicationId=to_resubmit, deficiencies=["经营范围填写不规范"])
    base = business_input("unused")
    acts: dict[str, Act] = {
        to_withdraw: lambda app_id: act(api, WITHDRAW, citizen, applicationId=app_id),
        to_supplement: lambda app_id: act(
            api,
            SUPPLEMENT,
            citizen,
            applicationId=app_id,
            materials=[{"name": "完税凭证", "provision": "UPLOAD", "reference": ref("t")}],
        ),
        to_resubmit: lambda app_id: act(
            api,
            RESUBMIT,
            citizen,
            applicationId=app_id,
            form={**base["form"], "businessScope": "餐饮服务（小吃）"},
            materials=base["materials"],
        ),
    }
    await revoke(api, elder, first["id"])  # from here on, one grant in force per act
    before = {app_id: await _stored(api, app_id) for app_id in acts}
    told_before = await agent_notices(api, elder)

    revoke_after_the_check(monkeypatch, api, elder)
    for app_id, agent_act in acts.items():
        current = await grant(api, elder)  # in force when the act checks it
        refused = await agent_act(app_id)
        assert errors(refused) == REFUSED, (app_id, refused)
        assert refused["application"] is None
        # Nothing of the act: the case as it was, the grant revoked and never used.
        after = await _stored(api, app_id)
        assert (after["status"], after["rev"], len(after["timeline"])) == (
            before[app_id]["status"],
            before[app_id]["rev"],
            len(before[app_id]["timeline"]),
        )
        stored_grant = await api.state.db["agency_grants"].find_one(
            {"_id": object_id_from_global(current["id"], "AgencyGrant")}
        )
        assert stored_grant is not None
        assert stored_grant["revoked_at"] is not None
        assert "acts" not in stored_grant
    assert await agent_notices(api, elder) == told_before  # the principal was told of no act

    # Without a revocation in between, the same acts pass (the refusals were the revocation's).
    monkeypatch.undo()
    await grant(api, elder)
    for app_id, agent_act in acts.items():
        assert (await agent_act(app_id))["userErrors"] == [], app_id


async def test_a_revocation_between_the_check_and_the_insert_refuses_the_submission(
    api: Api, elder: str, citizen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for an agent's submission of a manual matter: the grant is re-checked in the
    insert's transaction, so no case, notice or marked upload is left behind."""
    current = await grant(api, elder)
    principal = current["principalId"]
    revoke_after_the_submission_check(monkeypatch, api, elder)
    db = api.state.db
    counts_before = [
        await db[c].count_documents({}) for c in ("applications", "application_notices")
    ]
    sub = {**business_input("agent-race-submit"), "onBehalfOf": principal}
    payload = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert errors(payload) == [("onBehalfOf", "AGENT_NOT_AUTHORISED")]
    assert payload["application"] is None
    counts_after = [
        await db[c].count_documents({}) for c in ("applications", "application_notices")
    ]
    assert counts_after == counts_before
    assert await db["material_uploads"].count_documents({"attached_to.0": {"$exists": True}}) == 0
    stored_grant = await db["agency_grants"].find_one(
        {"_id": object_id_from_global(current["id"], "AgencyGrant")}
    )
    assert stored_grant is not None
    assert "acts" not in stored_grant

    # Without the revocation in between, the same submission passes.
    monkeypatch.undo()
    await grant(api, elder)
    again = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert again["userErrors"] == []
