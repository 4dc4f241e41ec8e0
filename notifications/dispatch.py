"""What every part of the dispatcher shares: its settings, the back-off, the lease-lost signal."""

from __future__ import annotations

import random
from dataclasses import dataclass

from notifications import outbox


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    lease_seconds: float = 60.0  # renewed every third of it while a job is processed
    max_attempts: int = 8  # transient failures before a device's push is given up
    base_delay: float = 2.0  # first retry after ~2 s, then doubling …
    max_delay: float = 3600.0  # … up to an hour
    concurrency: int = 8  # provider batches in flight per worker process
    jobs_in_flight: int = 8
    poll_interval: float = 0.2
    chunks_per_plan_step: int = 20
    chunk_size: int = outbox.CHUNK_SIZE  # recipients per campaign job


class LeaseLost(Exception):
    """Another worker took the job over (this one was too slow or presumed dead)."""


def backoff(attempt: int, config: DispatchConfig, retry_after: float | None) -> float:
    """Exponential back-off with full jitter on the upper half; never less than Retry-After."""
    ceiling = min(config.max_delay, config.base_delay * 2 ** max(0, attempt - 1))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret
    return float(max(delay, retry_after or 0.0))
