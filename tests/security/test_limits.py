"""Budgets for the expensive operations (app/ratelimit.py OPERATION_RATES), on top of the
per-request limits tested in tests/app/test_http.py (headers and CORS are tested there too)."""

from __future__ import annotations

import uuid

from app.ratelimit import OPERATION_RATES, OperationLimits, Rate
from matters.service import seed_catalogue
from matters.store import MatterStore
from tests.applications.conftest import demo_catalogue, own_business_input
from tests.factories import Api
from tests.security.roles import sign_in_everyone

SEARCH = '{ searchMatters(query: "个体工商户", first: 1) { edges { node { code } } } }'
SUBMIT = """mutation($input: SubmitApplicationInput!) {
  submitApplication(input: $input) { application { id } userErrors { code } } }"""


def test_every_expensive_operation_has_a_budget() -> None:
    assert set(OPERATION_RATES) >= {
        "searchMatters",
        "verifyLicenceQr",
        "submitApplication",
        "previewCampaign",
    }


async def test_search_is_budgeted_per_ip_for_anonymous_and_per_person_signed_in(
    api: Api,
) -> None:
    await seed_catalogue(MatterStore(api.state.db), demo_catalogue())
    api.state.operation_limits = OperationLimits({n: Rate(2, 60) for n in OPERATION_RATES})
    for _ in range(2):
        assert "errors" not in await api.gql(SEARCH)
    refused = await api.gql(SEARCH)
    assert refused["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    # a signed-in person has a budget of their own, not the IP's
    people = await sign_in_everyone(api.state)
    assert "errors" not in await api.gql(SEARCH, token=people["citizen"].token)


async def test_submissions_are_budgeted_per_person(api: Api) -> None:
    await seed_catalogue(MatterStore(api.state.db), demo_catalogue())
    api.state.operation_limits = OperationLimits({n: Rate(1, 60) for n in OPERATION_RATES})
    people = await sign_in_everyone(api.state)
    token = people["citizen"].token
    first = await api.data(
        SUBMIT, {"input": await own_business_input(api, token, uuid.uuid4().hex)}, token
    )
    assert first["submitApplication"]["userErrors"] == []
    second = await api.data(
        SUBMIT, {"input": await own_business_input(api, token, uuid.uuid4().hex)}, token
    )
    assert second["submitApplication"]["userErrors"] == [{"code": "RATE_LIMITED"}]
    other_token = people["other"].token
    other_input = await own_business_input(api, other_token, uuid.uuid4().hex)
    other = await api.data(SUBMIT, {"input": other_input}, other_token)
    assert other["submitApplication"]["userErrors"] == []
