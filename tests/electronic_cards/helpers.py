"""GraphQL operations and small helpers for the licence-wallet tests."""

from __future__ import annotations

from typing import Any

from app.seed import seed_demo
from tests.factories import Api

HOLDER = "13800000001"  # 张三明, L3: 居民身份证, 机动车驾驶证, 营业执照
OTHER = "13800000002"  # 李四, L2: 居民身份证
TRAFFIC = "13800000101"  # verifier, scene TRAFFIC_CHECK
HOTEL = "13800000102"  # verifier, scene HOTEL_CHECKIN
ADMIN = "13800000901"

MY_LICENCES = """
{ myLicences { id type { code name } holderName number idNumber issuer validFrom validUntil
  status } }"""

LICENCE = """
query L($id: ID!) { licence(id: $id) { id type { code } holderName number status } }"""

RECORDS = """
query R($id: ID!, $first: Int, $after: String) {
  licenceUsageRecords(licenceId: $id, first: $first, after: $after) {
    nodes { at result scene verifierOrganization { name } fieldsDisclosed flagged channel }
    pageInfo { hasNextPage endCursor }
  }
}"""

CREATE_QR = """
mutation Q($id: ID!, $mode: QrMode!) {
  createLicenceQr(input: {licenceId: $id, mode: $mode}) {
    qr { text expiresAt mode }
    userErrors { field code message }
  }
}"""

CREATE_QR_PNG = """
mutation Q($id: ID!, $size: Int!) {
  createLicenceQr(input: {licenceId: $id, mode: ONLINE}) {
    qr { text png(size: $size) }
    userErrors { field code message }
  }
}"""

VERIFY = """
mutation V($text: String!, $scene: String!) {
  verifyLicenceQr(input: {text: $text, scene: $scene}) {
    result checkedAt
    licence { type { code name } holderName number idNumber validUntil status disclosedFields }
    userErrors { field code message }
  }
}"""

STATUS_CHANGE = """
mutation S($id: ID!, $reason: String!) {
  %s(input: {licenceId: $id, reason: $reason}) {
    licence { id status }
    userErrors { field code message }
  }
}"""


async def seeded(api: Api) -> None:
    await seed_demo(api.state)


async def licence_id(api: Api, token: str, type_code: str) -> str:
    data = await api.data(MY_LICENCES, token=token)
    return str(next(lic["id"] for lic in data["myLicences"] if lic["type"]["code"] == type_code))


async def mint(api: Api, token: str, lid: str, mode: str = "ONLINE") -> dict[str, Any]:
    payload = (await api.data(CREATE_QR, {"id": lid, "mode": mode}, token=token))["createLicenceQr"]
    return dict(payload)


async def mint_text(api: Api, token: str, lid: str, mode: str = "ONLINE") -> str:
    payload = await mint(api, token, lid, mode)
    assert payload["userErrors"] == [], payload
    return str(payload["qr"]["text"])


async def verify(api: Api, token: str, text: str, scene: str) -> dict[str, Any]:
    payload = (await api.data(VERIFY, {"text": text, "scene": scene}, token=token))[
        "verifyLicenceQr"
    ]
    return dict(payload)


async def change_status(api: Api, token: str, action: str, lid: str) -> dict[str, Any]:
    payload = await api.data(STATUS_CHANGE % action, {"id": lid, "reason": "测试"}, token=token)
    return dict(payload[action])


async def records(api: Api, token: str, lid: str) -> list[dict[str, Any]]:
    data = await api.data(RECORDS, {"id": lid, "first": 100}, token=token)
    return list(data["licenceUsageRecords"]["nodes"])
