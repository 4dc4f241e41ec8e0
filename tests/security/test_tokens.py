"""Token attacks beyond tests/auth/test_sessions.py: every forged or stale credential is refused
with UNAUTHENTICATED, never a 5xx, and never silently downgraded to a working request."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from app.audit import AUDIT_EVENTS
from auth.store import SESSIONS, SIGNING_KEYS, AuthStore
from tests.auth.test_sessions import REFRESH, _b64, _claims, _hs256, _me_error, _private_key
from tests.factories import Api, Json, create_demo_user

PUBLIC = "{ licenceTypes { code } }"


def _raw_es256(header: Json, claims: Json, key: ec.EllipticCurvePrivateKey) -> str:
    """Sign any header as it is (PyJWT refuses to write some of the headers attackers send)."""
    signing_input = f"{_b64(header)}.{_b64(claims)}".encode()
    algorithm = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256)
    signature = algorithm.sign(signing_input, key)
    return f"{signing_input.decode()}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"


@pytest.fixture
async def signed_in(api: Api) -> Json:
    await create_demo_user(api.state, "13800000001")
    return await api.login("13800000001")


async def test_forged_headers_and_claims_are_unauthenticated(api: Api, signed_in: Json) -> None:
    good = signed_in["accessToken"]
    claims = _claims(good)
    kid, private = _private_key(api)
    now = datetime.now(UTC)
    someone_else = await create_demo_user(api.state, "13800000002")

    def signed(extra: Json | None = None, drop: str | None = None, **headers: object) -> str:
        body = {**claims, **(extra or {})}
        if drop:
            body.pop(drop)
        return jwt.encode(body, private, "ES256", headers={"kid": kid, **headers})

    attacks = {
        "alg None (capitalised)": f"{_b64({'alg': 'None', 'kid': kid})}.{_b64(claims)}.",
        "alg none with a signature": f"{_b64({'alg': 'none', 'kid': kid})}.{_b64(claims)}.AAAA",
        "HS256 with the public key, no kid": _hs256(claims, b"anything", ""),
        "wrong issuer": signed({"iss": "https://evil.example"}),
        "no session id": signed(drop="sid"),
        "no expiry": signed(drop="exp"),
        "no audience": signed(drop="aud"),
        "far-future expiry on an old issue": signed(
            {"iat": int((now - timedelta(days=30)).timestamp()), "nbf": 0}
        ),
        "kid is a number": _raw_es256({"alg": "ES256", "kid": 7}, claims, private),
        "kid path trick": signed(kid="../../../../etc/passwd"),
        "kid injection": signed(kid='{"$ne": null}'),
        "session that does not exist": signed({"sid": "0" * 32}),
        "sub of another person in my session": signed({"sub": str(someone_else.id)}),
        "sub that is not an id": signed({"sub": "admin"}),
        "roles raised, re-signed with a foreign key": jwt.encode(
            {**claims, "roles": ["ADMIN"]},
            ec.generate_private_key(ec.SECP256R1()),
            "ES256",
            headers={"kid": kid},
        ),
    }
    # "far-future expiry on an old issue" is still a valid token of ours (iat is not an age
    # limit); it proves only that odd claims do not crash verification.
    allowed = {"far-future expiry on an old issue"}
    for name, token in attacks.items():
        code = await _me_error(api, token)
        if name in allowed:
            continue
        assert code == "UNAUTHENTICATED", name
    assert await _me_error(api, good) is None


async def test_a_token_of_an_ended_session_is_refused(api: Api, signed_in: Json) -> None:
    """A genuine, unexpired access token stops working when its session ends."""
    await api.data("mutation { logout(input: {}) { ok } }", token=signed_in["accessToken"])
    assert await _me_error(api, signed_in["accessToken"]) == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer " + "x" * 5000, "Bearer a.b"],
)
async def test_odd_authorization_headers_never_break_public_reads(api: Api, header: str) -> None:
    """A malformed header leaves the request anonymous: public data still answers, private says
    UNAUTHENTICATED; nothing answers 5xx."""
    response = await api.client.post(
        "/graphql", json={"query": PUBLIC}, headers={"Authorization": header}
    )
    assert response.status_code == 200
    assert response.json()["data"]["licenceTypes"]
    response = await api.client.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": header}
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_refresh_reuse_is_audited_and_ends_the_access_token(
    api: Api, signed_in: Json
) -> None:
    rotated = (await api.data(REFRESH, {"t": signed_in["refreshToken"]}))["refreshSession"]
    assert rotated["userErrors"] == []
    replay = (await api.data(REFRESH, {"t": signed_in["refreshToken"]}))["refreshSession"]
    assert replay["userErrors"][0]["code"] == "INVALID_TOKEN"
    # the access token minted by the rotation is dead too: the family is revoked
    assert await _me_error(api, rotated["accessToken"]) == "UNAUTHENTICATED"
    session = await api.state.db[SESSIONS].find_one({})
    assert session is not None
    audit = await api.state.db[AUDIT_EVENTS].find_one({"action": "auth.session.reuse_detected"})
    assert audit is not None
    assert audit["target"] == session["_id"]


async def test_retired_signing_key_stops_verifying_after_one_token_lifetime(
    api: Api, signed_in: Json
) -> None:
    """A token signed with a key retired longer ago than an access-token lifetime is refused."""
    claims = _claims(signed_in["accessToken"])
    kid, private = _private_key(api)
    keys = api.state.token_keys
    await api.state.db[SIGNING_KEYS].update_one(
        {"_id": kid}, {"$set": {"retired_at": datetime.now(UTC) - keys.ttl - timedelta(minutes=1)}}
    )
    await keys.reload(AuthStore(api.state.db))
    token = jwt.encode(claims, private, "ES256", headers={"kid": kid})
    assert await _me_error(api, token) == "UNAUTHENTICATED"
