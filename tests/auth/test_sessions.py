"""Access tokens, refresh rotation with reuse detection, logout, key rotation, token attacks."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from auth.store import SESSIONS, AuthStore
from tests.factories import Api, Json, create_demo_user

ME = "{ me { phone } }"
REFRESH = """
mutation R($t: String!) {
  refreshSession(input: {refreshToken: $t}) {
    accessToken refreshToken expiresIn userErrors { field code }
  }
}"""
LOGOUT = "mutation { logout(input: {}) { ok userErrors { code } } }"


async def _me_error(api: Api, token: str) -> str | None:
    payload = await api.gql(ME, token=token)
    if "errors" not in payload:
        return None
    code: str = payload["errors"][0]["extensions"]["code"]
    return code


async def _refresh(api: Api, token: str) -> Json:
    return dict((await api.data(REFRESH, {"t": token}))["refreshSession"])


@pytest.fixture
async def signed_in(api: Api) -> Json:
    await create_demo_user(api.state, "13800000001")
    return await api.login("13800000001")


async def test_me_without_token_is_unauthenticated(api: Api) -> None:
    payload = await api.gql(ME)
    assert payload["data"] is None
    assert payload["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_refresh_rotates_and_reuse_revokes_the_family(api: Api, signed_in: Json) -> None:
    first = await _refresh(api, signed_in["refreshToken"])
    assert first["userErrors"] == []
    assert first["refreshToken"] != signed_in["refreshToken"]
    assert await _me_error(api, first["accessToken"]) is None

    second = await _refresh(api, first["refreshToken"])
    assert second["userErrors"] == []

    # the first refresh token comes back: treat the family as stolen
    replay = await _refresh(api, signed_in["refreshToken"])
    assert replay["userErrors"] == [{"field": "refreshToken", "code": "INVALID_TOKEN"}]
    assert replay["accessToken"] is None
    # every token of the family is dead now, including the newest ones
    assert (await _refresh(api, second["refreshToken"]))["userErrors"][0]["code"] == (
        "INVALID_TOKEN"
    )
    assert await _me_error(api, second["accessToken"]) == "UNAUTHENTICATED"
    session = await api.state.db[SESSIONS].find_one({})
    assert session is not None
    assert session["revoked_reason"] == "refresh-token-reuse"


@pytest.mark.parametrize("token", ["", "short", "x" * 500, "not-a-token-but-long-enough-0123"])
async def test_garbage_refresh_token_is_invalid(api: Api, token: str) -> None:
    result = await _refresh(api, token)
    assert result["userErrors"] == [{"field": "refreshToken", "code": "INVALID_TOKEN"}]


async def test_refresh_tokens_are_stored_hashed(api: Api, signed_in: Json) -> None:
    stored = await api.state.db["refresh_tokens"].find_one({})
    assert stored is not None
    assert signed_in["refreshToken"] not in json.dumps(stored, default=str)


async def test_logout_ends_access_and_refresh(api: Api, signed_in: Json) -> None:
    token = signed_in["accessToken"]
    assert (await api.data(LOGOUT, token=token))["logout"] == {"ok": True, "userErrors": []}
    assert await _me_error(api, token) == "UNAUTHENTICATED"
    assert (await _refresh(api, signed_in["refreshToken"]))["userErrors"][0]["code"] == (
        "INVALID_TOKEN"
    )


async def test_logout_requires_sign_in(api: Api) -> None:
    payload = await api.gql(LOGOUT)
    assert payload["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_logout_everywhere_ends_other_sessions(api: Api, signed_in: Json) -> None:
    other = await api.state.auth_service().open_session_for_phone("13800000001", method="test")
    result = await api.data(
        "mutation { logout(input: {allDevices: true}) { ok } }", token=signed_in["accessToken"]
    )
    assert result["logout"]["ok"] is True
    assert await _me_error(api, other.access_token) == "UNAUTHENTICATED"


def _payload(token: str) -> str:
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def _b64(data: Json) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(token: str) -> Json:
    return dict(json.loads(_payload(token)))


def _private_key(api: Api) -> tuple[str, ec.EllipticCurvePrivateKey]:
    keys = api.state.token_keys
    key = keys._active_key()  # test reaches in to forge tokens with the real key
    assert key is not None
    return key.kid, key.private


async def test_token_attacks_are_unauthenticated(api: Api, signed_in: Json) -> None:
    good = signed_in["accessToken"]
    header, _, signature = good.split(".")
    claims = _claims(good)
    kid, private = _private_key(api)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = datetime.now(UTC)
    attacks = {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64(claims)}.",
        "HS256 with the public key": _hs256(claims, public_pem, kid),
        "wrong kid": jwt.encode(claims, private, "ES256", headers={"kid": "nope"}),
        "expired": jwt.encode(
            {**claims, "exp": int((now - timedelta(minutes=1)).timestamp())},
            private,
            "ES256",
            headers={"kid": kid},
        ),
        "not yet valid": jwt.encode(
            {**claims, "nbf": int((now + timedelta(minutes=5)).timestamp())},
            private,
            "ES256",
            headers={"kid": kid},
        ),
        "tampered claims": f"{header}.{_b64({**claims, 'roles': ['ADMIN']})}.{signature}",
        "foreign key": jwt.encode(
            claims, ec.generate_private_key(ec.SECP256R1()), "ES256", headers={"kid": kid}
        ),
        "wrong audience": jwt.encode(
            {**claims, "aud": "other"}, private, "ES256", headers={"kid": kid}
        ),
        "garbage": "abc.def.ghi",
    }
    for name, token in attacks.items():
        assert await _me_error(api, token) == "UNAUTHENTICATED", name
    assert await _me_error(api, good) is None


def _hs256(claims: Json, secret: bytes, kid: str) -> str:
    import hashlib
    import hmac

    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


async def test_key_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(
    api: Api, signed_in: Json
) -> None:
    old_token = signed_in["accessToken"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    new_kid = await api.state.token_keys.rotate(AuthStore(api.state.db))
    assert new_kid != old_kid
    assert await _me_error(api, old_token) is None
    refreshed = await _refresh(api, signed_in["refreshToken"])
    assert jwt.get_unverified_header(refreshed["accessToken"])["kid"] == new_kid
    assert await _me_error(api, refreshed["accessToken"]) is None


async def test_signing_keys_are_stored_wrapped(api: Api) -> None:
    doc = await api.state.db["auth_signing_keys"].find_one({})
    assert doc is not None
    assert b"PRIVATE KEY" not in doc["private_cipher"]
    assert set(doc) >= {"_id", "private_cipher", "created_at"}
