"""SDL signing keys: ES256 key pairs kept in MongoDB, private halves wrapped with AES-GCM.

Every process shares the keys through the store and reloads them now and then, so a rotation
reaches all of them. Rotation publishes a key *before* it signs anything (`lead`, a day by
default, so verifiers that refresh daily know it before they meet it) and keeps the old key
published until the last token and status list it signed have expired (spec §4).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app import sealing
from electronic_cards.sdl1 import ALG_ES256, MAX_LIFETIME

_WRAP_PURPOSE = "sdl-signing-key"
_RELOAD_INTERVAL = 30.0
_ECDSA = ec.ECDSA(hashes.SHA256())
STATUS_LIST_LIFETIME = timedelta(hours=24)
# What a key may still have signed after it stops signing: a token (≤300 s) or a status list.
LONGEST_SIGNED_LIFE = max(timedelta(seconds=MAX_LIFETIME), STATUS_LIST_LIFETIME)
KEY_PLANNED_LIFE = timedelta(days=365)  # the `exp` published for a key nobody replaced yet


def kid_of(public: ec.EllipticCurvePublicKey) -> bytes:
    """Spec §2: the first 8 bytes of SHA-256 over the SubjectPublicKeyInfo DER."""
    spki = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()[:8]


def raw_to_der(signature: bytes) -> bytes:
    """r‖s (COSE) → DER `SEQUENCE { INTEGER r, INTEGER s }` (what OpenSSL verifies).

    Written out because the general ASN.1 helpers cost several microseconds per token, a
    noticeable share of an ES256 verification; `der_to_raw` is the inverse for signing.
    """
    r = signature[:32].lstrip(b"\x00") or b"\x00"
    s = signature[32:].lstrip(b"\x00") or b"\x00"
    if r[0] & 0x80:
        r = b"\x00" + r
    if s[0] & 0x80:
        s = b"\x00" + s
    return b"".join((b"\x30", bytes((len(r) + len(s) + 4, 2, len(r))), r, bytes((2, len(s))), s))


def der_to_raw(der: bytes) -> bytes:
    # SEQUENCE (short length: a P-256 signature is at most 72 bytes) of two INTEGERs.
    r_len = der[3]
    r = der[4 : 4 + r_len]
    s = der[6 + r_len :]
    return r[-32:].rjust(32, b"\x00") + s[-32:].rjust(32, b"\x00")


def verify_es256(public: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public.verify(raw_to_der(signature), data, _ECDSA)
    except InvalidSignature:
        return False
    return True


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class SdlKey:
    kid: bytes
    private: ec.EllipticCurvePrivateKey
    public: ec.EllipticCurvePublicKey
    created_at: datetime  # published from
    activates_at: datetime  # signs from
    withdrawn_at: datetime | None  # explicit withdrawal (compromise); gone from the list

    alg = ALG_ES256

    def sign(self, data: bytes) -> bytes:
        return der_to_raw(self.private.sign(data, _ECDSA))

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self.public.verify(raw_to_der(signature), data, _ECDSA)
        except InvalidSignature:
            return False
        return True


class KeyStoreProtocol(Protocol):
    """What the key ring needs from the store."""

    async def sdl_keys(self) -> list[dict[str, Any]]: ...

    async def insert_sdl_key(self, doc: dict[str, Any]) -> None: ...


class SdlKeys:
    """The SDL key ring of this process."""

    def __init__(self, wrap_key: bytes, old_wrap_keys: Sequence[bytes] = ()) -> None:
        self._wrap_key = wrap_key
        self._unwrap_keys = (wrap_key, *old_wrap_keys)  # during a master-secret rotation
        self._keys: dict[bytes, SdlKey] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    def _wrap_private(self, key: ec.EllipticCurvePrivateKey) -> bytes:
        return sealing.wrap_private_key(self._wrap_key, key, _WRAP_PURPOSE)

    def _unwrap_private(self, blob: bytes) -> ec.EllipticCurvePrivateKey:
        return sealing.unwrap_private_key_any(self._unwrap_keys, blob, _WRAP_PURPOSE)

    async def rotate(self, store: KeyStoreProtocol, lead: timedelta) -> SdlKey:
        """Publish a new key now that starts signing after `lead`; returns it."""
        now = datetime.now(UTC)
        private = ec.generate_private_key(ec.SECP256R1())
        kid = kid_of(private.public_key())
        await store.insert_sdl_key(
            {
                "_id": kid.hex(),
                "alg": "ES256",
                "private_cipher": self._wrap_private(private),
                "created_at": now,
                "activates_at": now + lead,
                "withdrawn_at": None,
            }
        )
        await self.reload(store)
        return self._keys[kid]

    async def ensure(self, store: KeyStoreProtocol) -> None:
        """A first key on a fresh database (nothing to publish ahead of: nothing was signed)."""
        await self.reload(store)
        if not self._keys:
            await self.rotate(store, timedelta(0))

    async def reload(self, store: KeyStoreProtocol) -> None:
        async with self._lock:
            keys: dict[bytes, SdlKey] = {}
            for doc in await store.sdl_keys():
                private = self._unwrap_private(doc["private_cipher"])
                kid = bytes.fromhex(doc["_id"])
                keys[kid] = SdlKey(
                    kid,
                    private,
                    private.public_key(),
                    doc["created_at"],
                    doc["activates_at"],
                    doc.get("withdrawn_at"),
                )
            self._keys = keys
            self._loaded_at = time.monotonic()

    async def refresh_if_stale(self, store: KeyStoreProtocol) -> None:
        if time.monotonic() - self._loaded_at > _RELOAD_INTERVAL:
            await self.reload(store)

    # -- which key does what, at a given time ------------------------------------------------

    def _retired_at(self, key: SdlKey) -> datetime | None:
        """When a later key took over from `key` (the earliest successor's activation)."""
        later = [k.activates_at for k in self._keys.values() if k.activates_at > key.activates_at]
        return min(later) if later else None

    def withdrawal_at(self, key: SdlKey) -> datetime | None:
        retired = self._retired_at(key)
        ends = [t for t in (key.withdrawn_at, retired and retired + LONGEST_SIGNED_LIFE) if t]
        return min(ends) if ends else None

    def signing_key(self, now: datetime) -> SdlKey:
        live = [
            k
            for k in self._keys.values()
            if k.activates_at <= now and (k.withdrawn_at is None or k.withdrawn_at > now)
        ]
        if not live:
            raise RuntimeError("no active SDL signing key (run `zsb keys rotate --qr`)")
        return max(live, key=lambda k: k.activates_at)

    def published(self, now: datetime) -> list[SdlKey]:
        out = []
        for key in self._keys.values():
            ends = self.withdrawal_at(key)
            if key.created_at <= now and (ends is None or ends > now):
                out.append(key)
        return sorted(out, key=lambda k: k.activates_at)

    def verifying_key(self, kid: bytes, now: datetime) -> SdlKey | None:
        key = self._keys.get(kid)
        if key is None or key not in self.published(now):
            return None
        return key

    async def verifying_key_fresh(
        self, store: KeyStoreProtocol, kid: bytes, now: datetime
    ) -> SdlKey | None:
        """Like `verifying_key`, reloading once when the kid is unknown (another process may
        have rotated a moment ago)."""
        key = self.verifying_key(kid, now)
        if key is None and time.monotonic() - self._loaded_at > 1.0:
            await self.reload(store)
            key = self.verifying_key(kid, now)
        return key

    def jwks(self, now: datetime) -> dict[str, list[dict[str, Any]]]:
        """The document served at /.well-known/sdl-keys.json (spec §4)."""
        keys = []
        for key in self.published(now):
            numbers = key.public.public_numbers()
            ends = self.withdrawal_at(key) or key.activates_at + KEY_PLANNED_LIFE
            keys.append(
                {
                    "kid": b64url(key.kid),
                    "alg": "ES256",
                    "kty": "EC",
                    "crv": "P-256",
                    "x": b64url(numbers.x.to_bytes(32, "big")),
                    "y": b64url(numbers.y.to_bytes(32, "big")),
                    "nbf": int(key.activates_at.timestamp()),
                    "exp": int(ends.timestamp()),
                }
            )
        return {"keys": keys}
