"""The interface every push channel implements, and the outcomes the dispatcher acts on."""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from bson import ObjectId

from notifications.models import Provider


class Outcome(StrEnum):
    ACCEPTED = "ACCEPTED"  # the provider took it (FCM confirms acceptance, not delivery)
    UNREGISTERED = "UNREGISTERED"  # the token is dead: disable the device, never retry
    INVALID = "INVALID"  # this message can never succeed: failed, no retry
    RETRY = "RETRY"  # quota, outage, timeout, garbage answer: try again later


@dataclass(frozen=True, slots=True)
class PushMessage:
    device_id: ObjectId
    token: str
    title: str
    body: str
    deep_link: str | None
    category: str
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    code: str | None = None  # the provider's own error code, for the failure record
    retry_after: float | None = None  # seconds the provider asked us to wait


class PushProvider(Protocol):
    provider: Provider
    max_batch: int  # the most messages one `send` call may carry

    async def send(self, messages: Sequence[PushMessage]) -> list[SendResult]:
        """One result per message, in order. Never raises for a provider-side failure."""
        ...

    async def aclose(self) -> None: ...


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
