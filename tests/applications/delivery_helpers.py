"""Shared snippets of the 出证 / 结果送达 tests: the veteran card matter and its GraphQL."""

from __future__ import annotations

from typing import Any

from auth.identity_numbers import with_check_digit
from auth.models import AssuranceLevel, Role
from auth.permissions import Viewer
from tests.applications.conftest import CLERK, SUBMIT, VETERAN, clerk_mutation, ref
from tests.factories import Api, create_demo_user

ACCEPT = clerk_mutation("acceptApplication", "AcceptApplicationInput")
APPROVE = clerk_mutation("approveApplication", "ApproveApplicationInput")
WALLET = "{ myLicences { id type { code } holderName status } }"
INBOX = "{ inbox(first: 20) { nodes { title body } } }"
CASE = """
query Case($id: ID!) {
  application(id: $id) {
    id status resultDeliveryMethod
    result {
      name licenceTypeCode licenceId deliveredAt
      delivery {
        method status carrier trackingNumber shippedAt receivedAt collectedAt
        address { recipientName phone region line }
      }
    }
    timeline { action actorRole data }
  }
}"""
SHIP = """
mutation Ship($input: RecordShipmentInput!) {
  recordShipment(input: $input) {
    application { id result { delivery { status carrier trackingNumber } } }
    userErrors { field code message }
  }
}"""
ADDRESS = {
    "recipientName": "张三明",
    "phone": "13800000001",  # a demo number: the personal-data guard checks it stays masked
    "region": "370202",
    "line": "香港中路100号3单元501室",
}


def veteran_input(key: str, delivery: dict[str, Any] | None = None, **form: Any) -> dict[str, Any]:
    """The citizen fixture's (张三明) application for a 退役军人优待证 (uploads: `ref`)."""
    sub: dict[str, Any] = {
        "matterCode": VETERAN,
        "idempotencyKey": key,
        "form": {
            "applicantName": "张三明",
            "idNumber": with_check_digit("37020219850615123"),
            "phone": "13800000001",
            **form,
        },
        "materials": [
            {"name": "退役证件", "provision": "UPLOAD", "reference": ref("file-1")},
            {"name": "居民身份证", "provision": "UPLOAD", "reference": ref("file-2")},
        ],
    }
    if delivery is not None:
        sub["resultDelivery"] = delivery
    return sub


async def submit_veteran(api: Api, token: str, key: str, delivery: Any = None) -> str:
    payload = (await api.data(SUBMIT, {"input": veteran_input(key, delivery)}, token))[
        "submitApplication"
    ]
    assert payload["userErrors"] == [], payload
    return str(payload["application"]["id"])


async def act(api: Api, mutation: str, token: str, **input: Any) -> dict[str, Any]:
    data = await api.data(mutation, {"input": input}, token)
    return dict(next(iter(data.values())))


async def approved_veteran(api: Api, citizen: str, clerk: str, key: str, delivery: Any) -> str:
    app_id = await submit_veteran(api, citizen, key, delivery)
    assert (await act(api, ACCEPT, clerk, applicationId=app_id))["userErrors"] == []
    assert (await act(api, APPROVE, clerk, applicationId=app_id))["userErrors"] == []
    return app_id


async def case(api: Api, token: str, app_id: str) -> dict[str, Any] | None:
    found = (await api.data(CASE, {"id": app_id}, token))["application"]
    return dict(found) if found is not None else None


async def wallet_codes(api: Api, token: str) -> list[str]:
    return [lic["type"]["code"] for lic in (await api.data(WALLET, token=token))["myLicences"]]


async def clerk_viewer(api: Api) -> Viewer:
    user = await create_demo_user(api.state, CLERK)
    return Viewer(
        user.id,
        "s",
        frozenset({Role.CLERK}),
        AssuranceLevel.L3,
        department_code=user.department_code,
    )
