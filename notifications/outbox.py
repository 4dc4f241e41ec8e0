"""The durable outbox: one job per transactional notification, one per chunk of a campaign.

A job is a document in `notification_outbox`:

    _id          "notify:<key>" or "campaign:<campaign id>:<seq>" (deterministic: replaying
                 a notify or a planning step finds the job already there instead of adding one)
    user_ids     the recipients (1 for notify, up to CHUNK_SIZE for a campaign chunk)
    source       the inbox key: each recipient gets at most one inbox copy per source
    message      title, body, category, deep_link, expires_at, data
    status       PENDING → LEASED → DONE | CANCELLED (LEASED with an old lease = claimable)
    finished_at  set with DONE / CANCELLED; the TTL index removes the job JOB_RETENTION later
    due_at, lease_owner, lease_until, attempts
    done_device_ids   devices a provider answered for good (accepted or dead): never sent again
    counts       inboxed / sent / failed / suppressed for this job

State changes are per job, never per device: a 5-million-device campaign is ~10,000 jobs, and
a device gets its own row (in `notification_failures`) only when something failed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from notifications.models import Campaign

CHUNK_SIZE = 500  # recipients per campaign job: about one provider batch
# Finished jobs (DONE, CANCELLED) expire this long after `finished_at` (TTL index). It is also
# how long a notify `key` stays idempotent: the inbox copy stays unique for its own lifetime,
# but a job re-created after this window would push again.
JOB_RETENTION = timedelta(days=30)
# Failure rows (a device that failed, and why) are kept for support questions, then expire.
FAILURE_RETENTION = timedelta(days=90)
CAMPAIGN_MESSAGE_TTL = timedelta(days=90)
NOTIFY_MESSAGE_TTL = timedelta(days=180)


def campaign_source(campaign_id: ObjectId) -> str:
    return f"campaign:{campaign_id}"


def new_job(
    job_id: str,
    *,
    user_ids: list[ObjectId],
    source: str,
    message: dict[str, Any],
    urgent: bool,
    now: datetime,
    due_at: datetime | None = None,
    campaign_id: ObjectId | None = None,
) -> dict[str, Any]:
    return {
        "_id": job_id,
        "campaign_id": campaign_id,
        "user_ids": user_ids,
        "source": source,
        "message": message,
        "urgent": urgent,
        "status": "PENDING",
        "due_at": due_at or now,
        "lease_owner": None,
        "lease_until": None,
        "attempts": 0,
        "claims": 0,
        "done_device_ids": [],
        "counts": {"inboxed": 0, "sent": 0, "failed": 0, "suppressed": 0},
        "created_at": now,
    }


def campaign_message(campaign: Campaign, now: datetime) -> dict[str, Any]:
    return {
        "title": campaign.title,
        "body": campaign.body,
        "category": campaign.category.value,
        "deep_link": campaign.deep_link,
        "expires_at": now + CAMPAIGN_MESSAGE_TTL,
        "data": {"campaignId": str(campaign.id)},
    }
