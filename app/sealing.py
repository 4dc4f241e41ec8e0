"""Personal data at rest: AES-GCM field encryption and HMAC blind indexes for lookups.

Every domain that stores an identity number, a phone or another identifier of a person seals it
here, with its own purpose string, so a ciphertext cannot be moved between fields unnoticed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"


def _aad(purpose: str) -> bytes:
    return f"zsb:{purpose}:v1".encode()


def encrypt(key: bytes, value: str, purpose: str) -> bytes:
    """`version | 12-byte nonce | ciphertext+tag`; randomised, so equal values differ."""
    nonce = os.urandom(12)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, value.encode(), _aad(purpose))


def decrypt(key: bytes, blob: bytes, purpose: str) -> str:
    if blob[:1] != _VERSION:
        raise ValueError(f"unknown {purpose} cipher version")
    try:
        return AESGCM(key).decrypt(blob[1:13], blob[13:], _aad(purpose)).decode()
    except InvalidTag as exc:
        raise ValueError(f"{purpose} cipher does not authenticate") from exc


def decrypt_any(keys: Sequence[bytes], blob: bytes, purpose: str) -> str:
    """`decrypt` under the first of `keys` (key generations, newest first) that authenticates."""
    for key in keys[:-1]:
        try:
            return decrypt(key, blob, purpose)
        except ValueError:
            continue
    return decrypt(keys[-1], blob, purpose)


def blind_indexes(keys: Sequence[bytes], value: str) -> list[str]:
    """The value's blind index under each key generation (for look-ups during a rotation)."""
    return list(dict.fromkeys(blind_index(k, value) for k in keys))


def blind_index(key: bytes, value: str) -> str:
    """Deterministic keyed hash: equal values match, the value cannot be recovered from it."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def wrap_private_key(key: bytes, private: ec.EllipticCurvePrivateKey, purpose: str) -> bytes:
    """A signing key as stored in MongoDB: PKCS#8 DER sealed under a key-wrapping key."""
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    nonce = os.urandom(12)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, der, _aad(purpose))


def unwrap_private_key_any(
    keys: Sequence[bytes], blob: bytes, purpose: str
) -> ec.EllipticCurvePrivateKey:
    """`unwrap_private_key` under the first of `keys` that authenticates."""
    for key in keys[:-1]:
        try:
            return unwrap_private_key(key, blob, purpose)
        except InvalidTag:
            continue
    return unwrap_private_key(keys[-1], blob, purpose)


def unwrap_private_key(key: bytes, blob: bytes, purpose: str) -> ec.EllipticCurvePrivateKey:
    if blob[:1] != _VERSION:
        raise ValueError(f"unknown {purpose} cipher version")
    der = AESGCM(key).decrypt(blob[1:13], blob[13:], _aad(purpose))
    private = serialization.load_der_private_key(der, password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{purpose} is not an EC private key")
    return private
