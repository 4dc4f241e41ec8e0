"""An offline-style verifier: only the published keys and status lists, fetched over HTTP.

What `zsb verify-qr` runs, and what any third party can build from the spec: checks 1–4 of
spec §6 against `/.well-known/sdl-keys.json`, then, for an offline token, the status bit from
`/.well-known/sdl-status/<id>`. An online token's live status needs the API (its handle means
nothing outside the server), so for it the answer says so.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from electronic_cards import registry, sdl1, status_list
from electronic_cards.keys import kid_of, verify_es256
from electronic_cards.models import VerificationResult
from electronic_cards.verification import decode_step, signature_and_time


@dataclass(frozen=True, slots=True)
class OfflineResult:
    result: VerificationResult
    label: str  # OFFLINE, or ONLINE_TOKEN_STATUS_UNCHECKED
    fields: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def _type_name(token_code: str) -> str:
    kind = registry.by_token_code(token_code)
    return f"{kind.code} {kind.name}" if kind else f"unknown ({token_code})"


def _b64url(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_keys(document: dict[str, Any], now: int) -> dict[bytes, ec.EllipticCurvePublicKey]:
    """kid → public key for every ES256 key the document lists as current."""
    keys: dict[bytes, ec.EllipticCurvePublicKey] = {}
    for entry in document.get("keys", []):
        if entry.get("alg") != "ES256" or entry.get("crv") != "P-256":
            continue  # SM2-SM3 keys need an SM2 library; this verifier does not have one
        public = ec.EllipticCurvePublicNumbers(
            int.from_bytes(_b64url(entry["x"]), "big"),
            int.from_bytes(_b64url(entry["y"]), "big"),
            ec.SECP256R1(),
        ).public_key()
        kid = _b64url(entry["kid"])
        if kid != kid_of(public):
            continue  # a kid that does not match its key is not trusted
        if int(entry.get("exp", now + 1)) > now:
            keys[kid] = public
    return keys


async def verify_text(text: str, client: httpx.AsyncClient, base_url: str) -> OfflineResult:
    base = base_url.rstrip("/")
    now = int(time.time())
    decoded = decode_step(text)
    if isinstance(decoded, VerificationResult):
        return OfflineResult(decoded, "OFFLINE")
    response = await client.get(f"{base}/.well-known/sdl-keys.json")
    response.raise_for_status()
    keys = load_keys(response.json(), now)
    public = keys.get(decoded.sign1.kid)

    failed = signature_and_time(
        decoded,
        (lambda sig, data: verify_es256(public, sig, data)) if public else None,
        now,
        key_alg=sdl1.ALG_ES256,  # load_keys() keeps ES256 keys only
    )
    if failed is not None:
        return OfflineResult(failed, "OFFLINE")
    claims = decoded.claims
    if claims.online:
        return OfflineResult(
            VerificationResult.VALID,
            "ONLINE_TOKEN_STATUS_UNCHECKED",
            {"type": _type_name(claims.lt)},
            "signature and time verified; live status needs verifyLicenceQr",
        )
    if claims.sl is None or claims.si is None:  # parse_claims guarantees both offline
        return OfflineResult(VerificationResult.MALFORMED, "OFFLINE")
    listing = await client.get(f"{base}/.well-known/sdl-status/{claims.sl}")
    listing.raise_for_status()
    sign1, payload = sdl1.decode_status_list(listing.text)
    list_key = keys.get(sign1.kid)
    if list_key is None or not verify_es256(list_key, sign1.signature, sign1.to_be_signed):
        raise sdl1.MalformedTokenError("status list signature does not verify")
    if payload.exp < now:
        raise sdl1.MalformedTokenError("status list expired")
    value = status_list.value_at(zlib.decompress(payload.compressed), claims.si)
    status = status_list.VALUE_STATUS.get(value)
    fields = {
        "type": _type_name(claims.lt),
        "holderName": claims.nm,
        "idNumber": claims.idn,
        "number": claims.no,
        "validUntil": claims.vu,
    }
    if status is None:
        return OfflineResult(VerificationResult.MALFORMED, "OFFLINE", note="reserved status")
    if status.value != "VALID":
        return OfflineResult(VerificationResult(status.value), "OFFLINE")
    today = int(time.strftime("%Y%m%d", time.gmtime(now + 8 * 3600)))  # China date
    if claims.vu is not None and claims.vu < today:
        return OfflineResult(VerificationResult.EXPIRED, "OFFLINE", note="licence expired")
    return OfflineResult(VerificationResult.VALID, "OFFLINE", fields)
