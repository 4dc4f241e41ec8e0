"""帮办代办: the agent's phone as a grant keeps it — a blind index for matching, and sealed, so
that `zsb keys reseal` can recompute the index after a master-secret rotation whether or not
the number has an account (app/reseal.py), and a revocation can find the agent's account under
either key generation (agent_notices.tell_agent_revoked)."""

from __future__ import annotations

from app import sealing
from app.db import Document
from app.keyring import Keyring

GRANT_PHONE_PURPOSE = "agency-agent-phone"  # AAD of the sealed phone (key: phone_encryption)


def seal_agent_phone(keyring: Keyring, phone: str) -> bytes:
    return sealing.encrypt(keyring.phone_encryption, phone, GRANT_PHONE_PURPOSE)


def agent_phone_keys(keyring: Keyring, doc: Document) -> list[str]:
    """The grant's agent phone as a blind index under every key generation the process reads
    (an account's index may be of the other generation during a rotation). A grant from before
    phones were sealed in grants has only its stored index."""
    blob = doc.get("agent_phone_cipher")
    try:
        keys = keyring.all("phone_encryption")
        phone = sealing.decrypt_any(keys, bytes(blob), GRANT_PHONE_PURPOSE) if blob else None
    except ValueError:  # sealed under a secret no longer configured: the stored index only
        phone = None
    if phone is None:
        return [doc["agent_phone_index"]]
    return sealing.blind_indexes(keyring.all("phone_index"), phone)
