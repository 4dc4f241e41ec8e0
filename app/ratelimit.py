"""Per-user and per-IP request-rate limits: token buckets kept in process memory.

These protect each API process from floods; with N processes a client gets at most N times the
rate, which is fine for this purpose. Limits that must hold exactly across processes (SMS codes,
QR minting) are kept in MongoDB by their own services instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    count: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`"600/60"` is 600 requests per 60 seconds."""
        count, _, seconds = text.partition("/")
        rate = cls(int(count), float(seconds or 1))
        if rate.count <= 0 or rate.seconds <= 0:
            raise ValueError(f"invalid rate {text!r}")
        return rate


class RateLimiter:
    _MAX_KEYS = 200_000

    def __init__(self, rate: Rate, *, enabled: bool = True) -> None:
        self.rate = rate
        self.enabled = enabled
        self._buckets: dict[str, tuple[float, float]] = {}

    def hit(self, key: str) -> float:
        """Take one token for `key`; 0 when allowed, else the seconds until one is available."""
        if not self.enabled:
            return 0.0
        now = time.monotonic()
        per_second = self.rate.count / self.rate.seconds
        tokens, last = self._buckets.get(key, (float(self.rate.count), now))
        tokens = min(float(self.rate.count), tokens + (now - last) * per_second)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / per_second
        if len(self._buckets) >= self._MAX_KEYS:
            self._buckets.clear()  # crude, but bounded: a flood of keys cannot exhaust memory
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0


# Budgets for the operations that cost far more than a request (a search over the catalogue, a
# signature check plus a transaction, a submission, an audience count), on top of the request
# limits above: per signed-in person, or per IP for anonymous callers. Generous for people,
# tight for scripts. (QR minting has its own limit per licence, in MongoDB; exportMyData too.)
OPERATION_RATES: dict[str, Rate] = {
    "searchMatters": Rate(120, 60),
    "verifyLicenceQr": Rate(120, 60),
    "submitApplication": Rate(30, 60),
    "previewCampaign": Rate(30, 60),
    # 打印面单 opens a sealed address: a morning's batch of labels, not an address book.
    "shippingLabel": Rate(60, 600),
}


class OperationLimits:
    def __init__(self, rates: dict[str, Rate] | None = None) -> None:
        self._limiters = {
            name: RateLimiter(rate) for name, rate in (rates or OPERATION_RATES).items()
        }

    def hit(self, operation: str, key: str) -> float:
        """0 when `key` may run `operation` now, else the seconds to wait."""
        return self._limiters[operation].hit(key)
