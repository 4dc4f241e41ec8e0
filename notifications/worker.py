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
import uuid
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from notifications.audience import AudienceReader
from notifications.campaign_store import CampaignStore
from notifications.delivery import Delivery
from notifications.dispatch import DispatchConfig, LeaseLost, backoff
from notifications.inbox_writer import ensure_inbox
from notifications.models import CampaignStatus, Provider
from notifications.outbox_store import OutboxStore
from notifications.planner import Planner
from notifications.policy import Clock, QuietHours, SystemClock, holds
from notifications.providers.base import PushProvider
from notifications.store import NotificationStore

__all__ = ["DispatchConfig", "Dispatcher", "LeaseLost", "backoff"]

log = logging.getLogger(__name__)


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
        self.jobs = OutboxStore(db)
        self.campaigns = CampaignStore(db)
        self.providers = providers
        self.quiet = quiet
        self.clock = clock or SystemClock()
        self.config = config or DispatchConfig()
        self.owner = owner or f"worker-{uuid.uuid4().hex[:10]}"
        self.planner = Planner(
            self.campaigns,
            self.jobs,
            AudienceReader(db, self.clock),
            self.clock,
            self.config,
            self.owner,
            self._lease,
        )
        self.delivery = Delivery(
            self.store,
            self.jobs,
            providers,
            concurrency=self.config.concurrency,
            clock=self.clock,
            owner=self.owner,
            lease=self._lease,
        )

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
        return await self.jobs.claim_job(now, self.owner, self._lease(now))

    async def plan_step(self) -> bool:
        return await self.planner.plan_step()

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
            renewed = await self.jobs.update_job(
                job["_id"], self.owner, {"$set": {"lease_until": self._lease(self.clock.now())}}
            )
            late = loop.time() - due
            if late > interval:  # the loop or the database is too slow for this lease
                log.warning("lease renewal late", extra={"job": job["_id"], "late_s": late})
            if not renewed:
                log.warning("lease renewal refused", extra={"job": job["_id"]})
                return

    async def _process(self, job: dict[str, Any]) -> None:
        campaign_id: ObjectId | None = job.get("campaign_id")
        if campaign_id is not None:
            campaign = await self.campaigns.get_campaign(campaign_id)
            if campaign is None or campaign.status is CampaignStatus.CANCELLED:
                await self.delivery.update(
                    job, {"$set": {"status": "CANCELLED", "finished_at": self.clock.now()}}
                )
                return
        now = self.clock.now()
        inboxed, push_users = await ensure_inbox(self.store, job, now)
        await self.delivery.update(
            job,
            {
                "$set": {
                    "counts.inboxed": inboxed,
                    "counts.suppressed": inboxed - len(push_users),
                    "lease_until": self._lease(now),
                }
            },
        )
        now = self.clock.now()
        hold_until = holds(self.quiet, now, bool(job.get("urgent")))
        if hold_until is not None:
            await self.delivery.update(
                job, {"$set": {"status": "PENDING", "due_at": hold_until, "lease_owner": None}}
            )
            return
        done = job.get("done_device_ids", [])
        devices = (
            await self.store.enabled_devices(sorted(push_users), exclude=done) if push_users else []
        )
        retry_after = await self.delivery.push(job, devices)
        now = self.clock.now()
        if retry_after is None:
            await self.delivery.update(job, {"$set": {"status": "DONE", "finished_at": now}})
            if campaign_id is not None:
                await self.planner.maybe_finish_campaign(campaign_id)
            return
        attempts = int(job.get("attempts", 0)) + 1
        if attempts >= self.config.max_attempts:
            await self.delivery.give_up(job, now)
            if campaign_id is not None:
                await self.planner.maybe_finish_campaign(campaign_id)
            return
        delay = backoff(attempts, self.config, retry_after)
        await self.delivery.update(
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
