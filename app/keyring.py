"""Purpose keys derived from the one master secret, so no two features share key material."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.settings import Settings


def _derive(master: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"zsb-keyring-v1", info=purpose.encode()
    ).derive(master)


@dataclass(frozen=True, slots=True)
class Keyring:
    """32-byte keys, one per purpose. Changing the master secret changes every one of them."""

    identity_encryption: bytes  # AES-GCM for identity numbers at rest
    identity_index: bytes  # HMAC blind index for identity-number lookups
    phone_encryption: bytes  # AES-GCM for phone numbers at rest
    phone_index: bytes  # HMAC blind index for phone lookups (users are keyed by phone)
    signing_key_wrap: bytes  # AES-GCM wrapping of private signing keys stored in MongoDB
    otp_hash: bytes  # HMAC of one-time login codes
    token_hash: bytes  # HMAC of opaque refresh tokens
    sdl_key_wrap: bytes  # AES-GCM wrapping of the SDL (亮证 QR) signing keys
    licence_data: bytes  # AES-GCM for licence and identity numbers held in the wallet
    delivery_address: bytes  # AES-GCM for postal addresses of results (申办 结果送达)

    @classmethod
    def from_master(cls, master: bytes) -> Keyring:
        return cls(
            identity_encryption=_derive(master, "identity-encryption"),
            identity_index=_derive(master, "identity-index"),
            phone_encryption=_derive(master, "phone-encryption"),
            phone_index=_derive(master, "phone-index"),
            signing_key_wrap=_derive(master, "signing-key-wrap"),
            otp_hash=_derive(master, "otp-hash"),
            token_hash=_derive(master, "token-hash"),
            sdl_key_wrap=_derive(master, "sdl-key-wrap"),
            licence_data=_derive(master, "licence-data"),
            delivery_address=_derive(master, "delivery-address"),
        )


def _dev_master(path: Path) -> bytes:
    """A random master secret generated once per data directory, for dev machines only."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(value)
    return value


def load_keyring(settings: Settings) -> Keyring:
    if settings.secret_key is not None:
        return Keyring.from_master(settings.secret_key.get_secret_value().encode())
    settings.check_production()  # refuses: production must configure ZSB_SECRET_KEY
    return Keyring.from_master(_dev_master(settings.secret_key_file))
