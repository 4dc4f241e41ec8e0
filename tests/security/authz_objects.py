"""How the authorisation matrix makes an object of each kind for a person.

A factory returns the new object's global id, or None when that person cannot own such a thing
(an operator has no licences): the "own object" cell is then not applicable for that role.
Add a kind here when a rule in `authz_rules.py` names a new one.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable

from bson import ObjectId

from app.ids import to_global_id
from tests.applications.conftest import own_business_input
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


# kind -> (factory, the GraphQL type name its global ids carry)
OBJECT_KINDS: dict[str, tuple[Factory, str]] = {
    "application": (_application, "Application"),
    "licence": (_licence, "Licence"),
    "device": (_device, "Device"),
    "miniprogram_device": (_miniprogram, "Device"),  # a WeChat mini-program's openid
    "material": (_material, "Upload"),
}


def missing_id(kind: str) -> str:
    """A well-formed id of the right type that names nothing."""
    return to_global_id(OBJECT_KINDS[kind][1], ObjectId())
