"""The dispatcher `zsb worker` runs: plans approved campaigns into jobs, claims jobs with
leases, writes the inbox exactly once, pushes in provider-sized batches and records results.

Any number of these run at once, in any number of processes; each may die at any moment:
- a job is only touched under its lease, and every write is fenced by the lease owner, so a
  worker that lost its lease cannot record over the one that took the job over;
- devices a provider answered for are added to the job (`done_device_ids`) after each batch, so
  a successor re-sends at most the one batch that was in flight when its predecessor died
  (at-least-once to providers), and inbox copies are keyed by (user, source): exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from notifications import outbox
from notifications.audience import AudienceReader
from notifications.models import Campaign, CampaignStatus, Category, Device, InboxMessage, Provider
from notifications.policy import (
    POLICY_PUSHES_PER_DAY,
    Clock,
    QuietHours,
    SystemClock,
    day_start,
    holds,
    is_capped_category,
)
from notifications.providers.base import Outcome, PushMessage, PushProvider, SendResult
from notifications.store import NotificationStore

log = logging.getLogger(__name__)


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


def _inbox_decisions(
    user_ids: Sequence[ObjectId],
    category: Category,
    opted_out: dict[ObjectId, set[str]],
    pushes_today: dict[ObjectId, int],
) -> dict[ObjectId, bool]:
    """Whether each recipient's copy may be pushed (True) or stays in the inbox only."""
    decisions = {}
    for uid in user_ids:
        allowed = category.value not in opted_out.get(uid, set())
        if allowed and is_capped_category(category):
            allowed = pushes_today.get(uid, 0) < POLICY_PUSHES_PER_DAY
        decisions[uid] = allowed
    return decisions


class Dispatcher:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        providers: dict[Provider, PushProvider],
        *,
        quiet: QuietHours | None,
        clock: Clock | None = None,
        config: DispatchConfig | None = None,
        owner: str | None = None,
    ) -> None:
        self.store = NotificationStore(db)
        self.audience = AudienceReader(db)
        self.providers = providers
        self.quiet = quiet
        self.clock = clock or SystemClock()
        self.config = config or DispatchConfig()
        self.owner = owner or f"worker-{uuid.uuid4().hex[:10]}"
        self._sends = asyncio.Semaphore(self.config.concurrency)

    def _lease(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.config.lease_seconds)

    # -- the loop ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        running: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            try:
                await self.plan_step()
                while len(running) < self.config.jobs_in_flight:
                    job = await self.claim()
                    if job is None:
                        break
                    running.add(asyncio.create_task(self.process(job)))
            except Exception:  # the database blinked: log, wait, carry on
                log.exception("dispatcher loop error")
            if running:
                done, running = await asyncio.wait(
                    running, timeout=self.config.poll_interval, return_when="FIRST_COMPLETED"
                )
                for task in done:
                    if task.exception() is not None:
                        log.error("job failed", exc_info=task.exception())
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.poll_interval)
        if running:
            await asyncio.wait(running)

    async def run_until_idle(self, max_rounds: int = 10_000) -> int:
        """Plan and process everything due now (tests and one-shot runs); jobs processed."""
        processed = 0
        for _ in range(max_rounds):
            planned = await self.plan_step()
            job = await self.claim()
            if job is None and not planned:
                return processed
            if job is not None:
                await self.process(job)
                processed += 1
        return processed

    async def claim(self) -> dict[str, Any] | None:
        now = self.clock.now()
        return await self.store.claim_job(now, self.owner, self._lease(now))

    # -- planning: campaign → jobs -------------------------------------------------------

    async def plan_step(self) -> bool:
        """Cut part of one due campaign into jobs; True if there was a campaign to plan."""
        now = self.clock.now()
        doc = await self.store.claim_campaign_planning(now, self.owner, self._lease(now))
        if doc is None:
            return False
        campaign = Campaign.from_document(doc)
        seq = doc["plan_seq"] + 1 if doc.get("plan_seq") is not None else 0
        cursor: ObjectId | None = doc.get("plan_cursor")
        message = outbox.campaign_message(campaign, now)
        for _ in range(self.config.chunks_per_plan_step):
            user_ids = await self.audience.page(campaign.target, cursor, self.config.chunk_size)
            if user_ids:
                await self.store.insert_job(
                    outbox.new_job(
                        f"campaign:{campaign.id}:{seq}",
                        user_ids=user_ids,
                        source=outbox.campaign_source(campaign.id),
                        message=message,
                        urgent=campaign.urgent,
                        now=now,
                        campaign_id=campaign.id,
                    )
                )
                now = self.clock.now()
                if not await self.store.advance_plan(
                    campaign.id, self.owner, seq, user_ids[-1], len(user_ids), self._lease(now)
                ):
                    return True  # another planner took over; its cursor is authoritative
                cursor, seq = user_ids[-1], seq + 1
            if len(user_ids) < self.config.chunk_size:
                await self.store.finish_plan(campaign.id, self.owner)
                await self._maybe_finish_campaign(campaign.id)
                return True
        return True

    async def _maybe_finish_campaign(self, campaign_id: ObjectId) -> None:
        if await self.store.unfinished_jobs(campaign_id) == 0:
            await self.store.transition_campaign(
                campaign_id,
                {"status": CampaignStatus.SENDING.value, "planned": True},
                {"status": CampaignStatus.DONE.value, "finished_at": self.clock.now()},
            )

    # -- one job -------------------------------------------------------------------------

    async def process(self, job: dict[str, Any]) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(job))
        try:
            await self._process(job)
        except LeaseLost:
            log.info("lease lost", extra={"job": job["_id"]})
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _heartbeat(self, job: dict[str, Any]) -> None:
        """Keep the lease while the job waits for a provider slot or a slow provider answer.

        Without it a job queued behind others in this process would lose its lease and be
        claimed again — by this very process — and its devices pushed twice.
        """
        interval = self.config.lease_seconds / 3
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + interval
            await asyncio.sleep(interval)
            renewed = await self.store.update_job(
                job["_id"], self.owner, {"$set": {"lease_until": self._lease(self.clock.now())}}
            )
            late = loop.time() - due
            if late > interval:  # the loop or the database is too slow for this lease
                log.warning("lease renewal late", extra={"job": job["_id"], "late_s": late})
            if not renewed:
                log.warning("lease renewal refused", extra={"job": job["_id"]})
                return

    async def _update(self, job: dict[str, Any], update: dict[str, Any]) -> None:
        if not await self.store.update_job(job["_id"], self.owner, update):
            raise LeaseLost(job["_id"])

    async def _process(self, job: dict[str, Any]) -> None:
        campaign_id: ObjectId | None = job.get("campaign_id")
        if campaign_id is not None:
            campaign = await self.store.get_campaign(campaign_id)
            if campaign is None or campaign.status is CampaignStatus.CANCELLED:
                await self._update(job, {"$set": {"status": "CANCELLED"}})
                return
        push_users = await self._ensure_inbox(job)
        now = self.clock.now()
        hold_until = holds(self.quiet, now, bool(job.get("urgent")))
        if hold_until is not None:
            await self._update(
                job, {"$set": {"status": "PENDING", "due_at": hold_until, "lease_owner": None}}
            )
            return
        done = job.get("done_device_ids", [])
        devices = (
            await self.store.enabled_devices(sorted(push_users), exclude=done) if push_users else []
        )
        retry_after = await self._push(job, devices)
        now = self.clock.now()
        if retry_after is None:
            await self._update(job, {"$set": {"status": "DONE", "finished_at": now}})
            if campaign_id is not None:
                await self._maybe_finish_campaign(campaign_id)
            return
        attempts = int(job.get("attempts", 0)) + 1
        if attempts >= self.config.max_attempts:
            await self._give_up(job, now)
            if campaign_id is not None:
                await self._maybe_finish_campaign(campaign_id)
            return
        delay = backoff(attempts, self.config, retry_after)
        await self._update(
            job,
            {
                "$set": {
                    "status": "PENDING",
                    "due_at": now + timedelta(seconds=delay),
                    "lease_owner": None,
                    "attempts": attempts,
                }
            },
        )

    async def _ensure_inbox(self, job: dict[str, Any]) -> set[ObjectId]:
        """Every recipient's inbox copy exists (exactly once); returns who may get a push."""
        user_ids: list[ObjectId] = job["user_ids"]
        source: str = job["source"]
        msg = job["message"]
        category = Category(msg["category"])
        now = self.clock.now()
        existing = await self.store.inbox_for_source(source, user_ids)
        have = {m.user_id for m in existing}
        missing = [u for u in user_ids if u not in have]
        if missing:
            opted = await self.store.opted_out_many(missing)
            pushes = (
                await self.store.policy_pushes_since(missing, day_start(now), source)
                if is_capped_category(category)
                else {}
            )
            decisions = _inbox_decisions(missing, category, opted, pushes)
            await self.store.insert_inbox(
                [
                    InboxMessage(
                        id=ObjectId(),
                        user_id=uid,
                        source=source,
                        title=msg["title"],
                        body=msg["body"],
                        category=category,
                        deep_link=msg.get("deep_link"),
                        created_at=now,
                        expires_at=msg.get("expires_at"),
                        push=decisions[uid],
                        campaign_id=job.get("campaign_id"),
                    )
                    for uid in missing
                ]
            )
            # Re-read: a concurrent writer may have won some inserts with its own decision.
            existing = await self.store.inbox_for_source(source, user_ids)
        push_users = {m.user_id for m in existing if m.push}
        await self._update(
            job,
            {
                "$set": {
                    "counts.inboxed": len(existing),
                    "counts.suppressed": len(existing) - len(push_users),
                    "lease_until": self._lease(now),
                }
            },
        )
        return push_users

    async def _push(self, job: dict[str, Any], devices: list[Device]) -> float | None:
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
            await self._record(
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
            await self._record(job, list(zip(batch, results, strict=True)))
            return [r.retry_after or 0.0 for r in results if r.outcome is Outcome.RETRY]

        waits = await asyncio.gather(*(send(p, b) for p, b in batches))
        retries = [w for batch_waits in waits for w in batch_waits]
        return max(retries) if retries else None

    async def _record(self, job: dict[str, Any], results: list[tuple[Device, SendResult]]) -> None:
        now = self.clock.now()
        accepted = [d.id for d, r in results if r.outcome is Outcome.ACCEPTED]
        dead = [d.id for d, r in results if r.outcome is Outcome.UNREGISTERED]
        failed = [
            (d, r) for d, r in results if r.outcome in (Outcome.UNREGISTERED, Outcome.INVALID)
        ]
        await self.store.disable_devices(dead, reason="UNREGISTERED")
        await self.store.record_failures(
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
        await self._update(
            job,
            {
                "$addToSet": {"done_device_ids": {"$each": finished}},
                "$inc": {"counts.sent": len(accepted), "counts.failed": len(failed)},
                "$set": {"lease_until": self._lease(now)},
            },
        )

    async def _give_up(self, job: dict[str, Any], now: datetime) -> None:
        """Out of attempts: what is still unanswered becomes a technical failure."""
        fresh = await self.store.get_job(job["_id"])
        done = (fresh or job).get("done_device_ids", [])
        push_users = [
            m.user_id
            for m in await self.store.inbox_for_source(job["source"], job["user_ids"])
            if m.push
        ]
        left = await self.store.enabled_devices(push_users, exclude=done) if push_users else []
        await self._record(job, [(d, SendResult(Outcome.INVALID, "GAVE_UP")) for d in left])
        await self._update(job, {"$set": {"status": "DONE", "finished_at": now, "gave_up": True}})
