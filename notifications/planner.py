"""Planning: an approved campaign is cut into outbox jobs of `chunk_size` recipients.

The planner holds its own lease on the campaign and walks the audience with a keyset cursor
over user ids. Job ids are `campaign:<id>:<seq>`, so a planner that dies and is replaced
re-inserts nothing, and `targeted` moves with the cursor in one guarded update.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bson import ObjectId

from notifications import outbox
from notifications.audience import AudienceReader
from notifications.campaign_store import CampaignStore
from notifications.dispatch import DispatchConfig
from notifications.models import Campaign, CampaignStatus
from notifications.outbox_store import OutboxStore
from notifications.policy import Clock


class Planner:
    def __init__(
        self,
        campaigns: CampaignStore,
        jobs: OutboxStore,
        audience: AudienceReader,
        clock: Clock,
        config: DispatchConfig,
        owner: str,
        lease: Callable[[datetime], datetime],
    ) -> None:
        self.campaigns = campaigns
        self.jobs = jobs
        self.audience = audience
        self.clock = clock
        self.config = config
        self.owner = owner
        self._lease = lease

    async def plan_step(self) -> bool:
        """Cut part of one due campaign into jobs; True if there was a campaign to plan."""
        now = self.clock.now()
        doc = await self.campaigns.claim_campaign_planning(now, self.owner, self._lease(now))
        if doc is None:
            return False
        campaign = Campaign.from_document(doc)
        seq = doc["plan_seq"] + 1 if doc.get("plan_seq") is not None else 0
        cursor: ObjectId | None = doc.get("plan_cursor")
        message = outbox.campaign_message(campaign, now)
        size = self.config.chunk_size
        # One audience query per step, not per chunk: a keyset page of `size × chunks` ids is
        # cut here. (SecantusDB applies a sort's limit after reading every match, so a query
        # per 500-id chunk made planning quadratic in the audience.)
        page = await self.audience.page(
            campaign.target, cursor, size * self.config.chunks_per_plan_step
        )
        for start in range(0, len(page.user_ids), size):
            chunk = page.user_ids[start : start + size]
            await self.jobs.insert_job(
                outbox.new_job(
                    f"campaign:{campaign.id}:{seq}",
                    user_ids=chunk,
                    source=outbox.campaign_source(campaign.id),
                    message=message,
                    urgent=campaign.urgent,
                    now=now,
                    campaign_id=campaign.id,
                )
            )
            now = self.clock.now()
            if not await self.campaigns.advance_plan(
                campaign.id, self.owner, seq, chunk[-1], len(chunk), self._lease(now)
            ):
                return True  # another planner took over; its cursor is authoritative
            seq += 1
        if page.next_after is None:
            await self.campaigns.finish_plan(campaign.id, self.owner)
            await self.maybe_finish_campaign(campaign.id)
        else:
            # More to cut. The cursor may lie past the last id planned (a page of licence
            # holders none of whom matched); releasing the lease lets the next step start at
            # once instead of when the lease runs out.
            await self.campaigns.release_plan(campaign.id, self.owner, page.next_after)
        return True

    async def maybe_finish_campaign(self, campaign_id: ObjectId) -> None:
        """DONE once planned and no job is left; the job totals are kept on the campaign then,
        because the jobs themselves expire after `outbox.JOB_RETENTION`."""
        if await self.jobs.unfinished_jobs(campaign_id) == 0:
            totals = await self.jobs.campaign_job_totals(campaign_id)
            await self.campaigns.transition_campaign(
                campaign_id,
                {"status": CampaignStatus.SENDING.value, "planned": True},
                {
                    "status": CampaignStatus.DONE.value,
                    "finished_at": self.clock.now(),
                    "final_totals": totals,
                },
            )
