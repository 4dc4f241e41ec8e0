"""Purpose keys derived from the one master secret, so no two features share key material."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
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
    form_data: bytes  # AES-GCM for identity numbers and phones typed into application forms
    # A short public fingerprint of the master secret: names a key generation in progress
    # markers and the audit log (it reveals nothing about the secret).
    generation: str = ""
    # Master secrets whose data is read but never written: the previous one while `zsb keys
    # reseal` moves everything to this one, or the next one ahead of a rotation
    # (ZSB_READ_SECRET_KEYS; docs/operations.md, "Master secret rotation").
    older: tuple[Keyring, ...] = ()

    def all(self, purpose: str) -> tuple[bytes, ...]:
        """This generation's key for `purpose` first, then the read-only generations'."""
        return tuple(getattr(k, purpose) for k in (self, *self.older))

    @classmethod
    def from_master(cls, master: bytes, read_only: Sequence[bytes] = ()) -> Keyring:
        older = tuple(cls.from_master(m) for m in read_only if m != master)
        return cls(
            generation=hmac.new(master, b"zsb-key-generation", hashlib.sha256).hexdigest()[:12],
            older=older,
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
            form_data=_derive(master, "form-data"),
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
    read_only = [k.get_secret_value().encode() for k in settings.read_secret_keys]
    if settings.secret_key is not None:
        return Keyring.from_master(settings.secret_key.get_secret_value().encode(), read_only)
    settings.check_production()  # refuses: production must configure ZSB_SECRET_KEY
    return Keyring.from_master(_dev_master(settings.secret_key_file), read_only)
