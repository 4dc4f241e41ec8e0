"""Each successful privileged mutation reaches the audit log (app/audit_extension.py)."""

from __future__ import annotations

import uuid

import pytest

from app.audit import AUDIT_EVENTS
from matters.service import seed_catalogue
from matters.store import MatterStore
from tests.applications.conftest import demo_catalogue, own_business_input
from tests.factories import Api
from tests.security.roles import sign_in_everyone

SUBMIT = """mutation($input: SubmitApplicationInput!) {
  submitApplication(input: $input) { application { id } userErrors { code } } }"""
ACCEPT = """mutation($input: AcceptApplicationInput!) {
  done: acceptApplication(input: $input) { application { status } userErrors { code } } }"""


async def test_clerk_acts_are_audited_and_citizen_acts_and_failures_are_not(api: Api) -> None:
    await seed_catalogue(MatterStore(api.state.db), demo_catalogue())
    people = await sign_in_everyone(api.state)
    submitted = await api.data(
        SUBMIT,
        {"input": await own_business_input(api, people["citizen"].token, uuid.uuid4().hex)},
        people["citizen"].token,
    )
    app_id = submitted["submitApplication"]["application"]["id"]
    accepted = await api.data(ACCEPT, {"input": {"applicationId": app_id}}, people["clerk"].token)
    assert accepted["done"]["userErrors"] == []
    again = await api.data(ACCEPT, {"input": {"applicationId": app_id}}, people["clerk"].token)
    assert again["done"]["userErrors"]  # already accepted: nothing changed, nothing recorded

    events = await api.state.db[AUDIT_EVENTS].find({"action": {"$regex": "^api\\."}}).to_list(10)
    assert [(e["action"], e["target"]) for e in events] == [("api.acceptApplication", app_id)]
    assert "CLERK" in events[0]["actor_roles"]


INLINE_ACCEPT = """mutation($input: AcceptApplicationInput!) { ... on Mutation {
  done: acceptApplication(input: $input) { application { status } userErrors { code } } } }"""
NAMED_ACCEPT = """mutation($input: AcceptApplicationInput!) { ...Act }
fragment Act on Mutation { ... on Mutation {
  done: acceptApplication(input: $input) { application { status } userErrors { code } } } }"""


@pytest.mark.parametrize("document", [INLINE_ACCEPT, NAMED_ACCEPT], ids=["inline", "named"])
async def test_a_privileged_act_wrapped_in_a_fragment_is_audited(api: Api, document: str) -> None:
    """Review 3 finding 3: top-level fields only, so a fragment-wrapped act left no record."""
    await seed_catalogue(MatterStore(api.state.db), demo_catalogue())
    people = await sign_in_everyone(api.state)
    submitted = await api.data(
        SUBMIT,
        {"input": await own_business_input(api, people["citizen"].token, uuid.uuid4().hex)},
        people["citizen"].token,
    )
    app_id = submitted["submitApplication"]["application"]["id"]
    accepted = await api.data(document, {"input": {"applicationId": app_id}}, people["clerk"].token)
    assert accepted["done"]["userErrors"] == []
    events = await api.state.db[AUDIT_EVENTS].find({"action": {"$regex": "^api\\."}}).to_list(10)
    assert [(e["action"], e["target"]) for e in events] == [("api.acceptApplication", app_id)]
