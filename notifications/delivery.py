"""Pushing one claimed job's devices in provider-sized batches and recording the answers.

Every write to the job is fenced by its lease owner (`update` raises `LeaseLost` when another
worker has taken the job over). Devices a provider answered for good are added to the job
after each batch, so a successor re-sends at most the one batch that was in flight.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from notifications.dispatch import LeaseLost
from notifications.models import Device, Provider
from notifications.outbox_store import OutboxStore
from notifications.policy import Clock
from notifications.providers.base import Outcome, PushMessage, PushProvider, SendResult
from notifications.store import NotificationStore


class Delivery:
    def __init__(
        self,
        store: NotificationStore,
        jobs: OutboxStore,
        providers: dict[Provider, PushProvider],
        *,
        concurrency: int,
        clock: Clock,
        owner: str,
        lease: Callable[[datetime], datetime],
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.providers = providers
        self.clock = clock
        self.owner = owner
        self._lease = lease
        self._sends = asyncio.Semaphore(concurrency)

    async def update(self, job: dict[str, Any], update: dict[str, Any]) -> None:
        if not await self.jobs.update_job(job["_id"], self.owner, update):
            raise LeaseLost(job["_id"])

    async def push(self, job: dict[str, Any], devices: list[Device]) -> float | None:
        """Send to every device; None when all are answered for good, else the wait asked for."""
        msg = job["message"]
        by_provider: dict[Provider, list[Device]] = defaultdict(list)
        unroutable: list[Device] = []
        for device in devices:
            if device.provider in self.providers:
                by_provider[device.provider].append(device)
            else:
                unroutable.append(device)
        if unroutable:
            await self.record(
                job, [(d, SendResult(Outcome.INVALID, "NO_PROVIDER")) for d in unroutable]
            )
        data = {str(k): str(v) for k, v in (msg.get("data") or {}).items()}
        batches = []
        for provider_name, group in by_provider.items():
            provider = self.providers[provider_name]
            for i in range(0, len(group), provider.max_batch):
                batches.append((provider, group[i : i + provider.max_batch]))

        async def send(provider: PushProvider, batch: list[Device]) -> list[float]:
            messages = [
                PushMessage(
                    device_id=d.id,
                    token=d.token,
                    title=msg["title"],
                    body=msg["body"],
                    deep_link=msg.get("deep_link"),
                    category=msg["category"],
                    data=data,
                )
                for d in batch
            ]
            async with self._sends:
                results = await provider.send(messages)
            await self.record(job, list(zip(batch, results, strict=True)))
            return [r.retry_after or 0.0 for r in results if r.outcome is Outcome.RETRY]

        waits = await asyncio.gather(*(send(p, b) for p, b in batches))
        retries = [w for batch_waits in waits for w in batch_waits]
        return max(retries) if retries else None

    async def record(self, job: dict[str, Any], results: list[tuple[Device, SendResult]]) -> None:
        now = self.clock.now()
        accepted = [d.id for d, r in results if r.outcome is Outcome.ACCEPTED]
        dead = [d.id for d, r in results if r.outcome is Outcome.UNREGISTERED]
        failed = [
            (d, r) for d, r in results if r.outcome in (Outcome.UNREGISTERED, Outcome.INVALID)
        ]
        await self.store.disable_devices(dead, reason="UNREGISTERED")
        await self.jobs.record_failures(
            [
                {
                    "_id": f"{job['_id']}:{d.id}",
                    "job_id": job["_id"],
                    "campaign_id": job.get("campaign_id"),
                    "device_id": d.id,
                    "user_id": d.user_id,
                    "provider": d.provider.value,
                    "code": r.code,
                    "at": now,
                }
                for d, r in failed
            ]
        )
        finished = accepted + [d.id for d, _ in failed]
        if not finished:
            return
        # $push, not $addToSet: a device is answered in one batch only (later batches and
        # successors exclude done devices), and $addToSet compares every id with every other.
        await self.update(
            job,
            {
                "$push": {"done_device_ids": {"$each": finished}},
                "$inc": {"counts.sent": len(accepted), "counts.failed": len(failed)},
                "$set": {"lease_until": self._lease(now)},
            },
        )

    async def give_up(self, job: dict[str, Any], now: datetime) -> None:
        """Out of attempts: what is still unanswered becomes a technical failure."""
        fresh = await self.jobs.get_job(job["_id"])
        done = (fresh or job).get("done_device_ids", [])
        push_users = [
            m.user_id
            for m in await self.store.inbox_for_source(job["source"], job["user_ids"])
            if m.push
        ]
        left = await self.store.enabled_devices(push_users, exclude=done) if push_users else []
        await self.record(job, [(d, SendResult(Outcome.INVALID, "GAVE_UP")) for d in left])
        await self.update(job, {"$set": {"status": "DONE", "finished_at": now, "gave_up": True}})
