"""SMS senders behind one interface: the dev sender records, the HTTP sender hands to a gateway."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Protocol

import httpx

from app.masking import mask_phone
from auth.store import AuthStore

log = logging.getLogger(__name__)


class SmsSender(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


class DevSmsSender:
    """Records messages where tests and `zsb dev sms --phone P` read them; refused in production."""

    def __init__(self, store: AuthStore) -> None:
        self.store = store

    async def send(self, phone: str, text: str) -> None:
        await self.store.record_dev_sms(phone, text, datetime.now(UTC))
        log.info("dev sms recorded", extra={"phone": mask_phone(phone)})


class HttpSmsSender:
    """Posts `{phone, text}` to the operator's SMS gateway (the carrier contract lives there)."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client = client
        self.url = url

    async def send(self, phone: str, text: str) -> None:
        response = await self.client.post(self.url, json={"phone": phone, "text": text})
        response.raise_for_status()
