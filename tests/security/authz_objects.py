"""How the authorisation matrix makes an object of each kind for a person.

A factory returns the new object's global id, or None when that person cannot own such a thing
(an operator has no licences): the "own object" cell is then not applicable for that role.
Add a kind here when a rule in `authz_rules.py` names a new one.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from app.ids import to_global_id
from tests.applications.conftest import REFS, own_business_input, real_refs
from tests.applications.flows.conftest import restaurant_input
from tests.applications.uploading import upload_png
from tests.factories import Api

Factory = Callable[[Api, str], Awaitable[str | None]]

_SUBMIT = """mutation($input: SubmitApplicationInput!) {
  submitApplication(input: $input) { application { id } userErrors { code } } }"""
_REGISTER = """mutation($input: RegisterDeviceInput!) {
  registerDevice(input: $input) { device { id } userErrors { code } } }"""
_MY_LICENCES = "{ myLicences { id } }"


async def _application(api: Api, token: str) -> str | None:
    variables = {"input": await own_business_input(api, token, uuid.uuid4().hex)}
    payload = (await api.data(_SUBMIT, variables, token))["submitApplication"]
    return payload["application"]["id"] if payload["application"] else None


async def _licence(api: Api, token: str) -> str | None:
    licences = (await api.data(_MY_LICENCES, token=token))["myLicences"]
    return str(licences[0]["id"]) if licences else None


async def _device(api: Api, token: str, provider: str = "FCM") -> str | None:
    variables = {
        "input": {"provider": provider, "token": secrets.token_hex(16), "platform": "ANDROID"}
    }
    payload = (await api.data(_REGISTER, variables, token))["registerDevice"]
    return payload["device"]["id"] if payload["device"] else None


async def _miniprogram(api: Api, token: str) -> str | None:
    return await _device(api, token, "WECHAT_MINIPROGRAM")


async def _material(api: Api, token: str) -> str | None:
    return await upload_png(api, token, secrets.token_hex(4))


_BUNDLE = """mutation($input: SubmitBundleInput!) {
  submitBundle(input: $input) { bundle { id } userErrors { code } } }"""
_GRANT = """mutation($input: GrantAgencyInput!) {
  grantAgency(input: $input) { grant { id } userErrors { code } } }"""
_FEEDBACK = """mutation($input: SubmitFeedbackInput!) {
  submitFeedback(input: $input) { ticket { id } userErrors { code } } }"""
# Tickets the matrix makes are about a department no matrix clerk or supervisor may handle
# (the city 公安局; they work for the 行政审批服务局): reporters and admins see them, and no
# staff member of another department may take or close them, whoever reported them.
TICKET_DEPARTMENT = "370200-GAJ"


async def _bundle(api: Api, token: str) -> str | None:
    """开饭店一件事 with the person's own uploads (three files serve the six materials)."""
    await real_refs(api, token, ["file-1", "file-2", "file-3"])
    for n in range(1, 7):
        REFS[f"f-{n}"] = REFS[f"file-{n % 3 + 1}"]
    variables = {"input": restaurant_input(uuid.uuid4().hex)}
    payload = (await api.data(_BUNDLE, variables, token))["submitBundle"]
    return payload["bundle"]["id"] if payload["bundle"] else None


async def _ticket(api: Api, token: str) -> str | None:
    feedback = {
        "kind": "COMPLAINT",
        "content": "窗口答复不清楚",
        "idempotencyKey": uuid.uuid4().hex,
        "departmentCode": TICKET_DEPARTMENT,
    }
    payload = (await api.data(_FEEDBACK, {"input": feedback}, token))["submitFeedback"]
    return payload["ticket"]["id"] if payload["ticket"] else None


async def _agency_grant(api: Api, token: str) -> str | None:
    """帮办代办: an authorisation of some agent (the number need not be registered)."""
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    variables = {"input": {"agentPhone": "13800000077", "expiresAt": expires}}
    payload = (await api.data(_GRANT, variables, token))["grantAgency"]
    return payload["grant"]["id"] if payload["grant"] else None


_CLERK_ACT = """mutation($input: %s!) { %s(input: $input) { application { id } } }"""
_RATE = """mutation($input: RateApplicationInput!) {
  rateApplication(input: $input) { application { rating { rectificationStatus } } } }"""
_MY_FEEDBACK = "{ myFeedback { nodes { id kind } } }"
CLERK = "13800000201"  # the matrix's clerk: the city 行政审批服务局 handles 市南区's cases


async def _rectification(api: Api, token: str) -> str | None:
    """差评整改: the person's case (市南区 个体工商户设立登记) approved by the matrix's clerk and
    rated 1 star: a ticket of a department the matrix's clerk and supervisor may handle."""
    app_id = await _application(api, token)
    if app_id is None:
        return None
    auth = api.state.auth_service()
    clerk = (await auth.open_session_for_phone(CLERK, method="test")).access_token
    for name, input_type in (("acceptApplication", "AcceptApplicationInput"),
                             ("approveApplication", "ApproveApplicationInput")):  # fmt: skip
        query = _CLERK_ACT % (input_type, name)
        await api.data(query, {"input": {"applicationId": app_id}}, clerk)
    rating = {"applicationId": app_id, "score": 1, "comment": "等了很久"}
    await api.data(_RATE, {"input": rating}, token)
    mine = (await api.data(_MY_FEEDBACK, token=token))["myFeedback"]["nodes"]
    return next((t["id"] for t in mine if t["kind"] == "RECTIFICATION"), None)


# kind -> (factory, the GraphQL type name its global ids carry)
OBJECT_KINDS: dict[str, tuple[Factory, str]] = {
    "application": (_application, "Application"),
    "licence": (_licence, "Licence"),
    "device": (_device, "Device"),
    "miniprogram_device": (_miniprogram, "Device"),  # a WeChat mini-program's openid
    "material": (_material, "Upload"),
    "bundle": (_bundle, "BundleApplication"),  # needs the flows' catalogue (开饭店一件事)
    "ticket": (_ticket, "Ticket"),
    "rectification": (_rectification, "Ticket"),
    "agency_grant": (_agency_grant, "AgencyGrant"),
}


def missing_id(kind: str) -> str:
    """A well-formed id of the right type that names nothing."""
    return to_global_id(OBJECT_KINDS[kind][1], ObjectId())
