"""The delivery outbox (jobs claimed under leases) and the per-device failure rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from app.db import CollectionIndexes, Document
from notifications.outbox import FAILURE_RETENTION, JOB_RETENTION

OUTBOX = "notification_outbox"
FAILURES = "notification_failures"

_DUPLICATE_KEY = 11000

INDEXES = [
    CollectionIndexes(
        OUTBOX,
        [
            IndexModel([("status", ASCENDING), ("due_at", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("lease_until", ASCENDING)]),
            IndexModel([("campaign_id", ASCENDING), ("status", ASCENDING)]),
            # Only finished jobs have `finished_at`, so only they expire.
            IndexModel(
                [("finished_at", ASCENDING)],
                expireAfterSeconds=int(JOB_RETENTION.total_seconds()),
            ),
        ],
    ),
    CollectionIndexes(
        FAILURES,
        [
            IndexModel([("job_id", ASCENDING)]),
            IndexModel(
                [("at", ASCENDING)], expireAfterSeconds=int(FAILURE_RETENTION.total_seconds())
            ),
        ],
    ),
]


class OutboxStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db

    def _c(self, name: str) -> AsyncCollection[Document]:
        return self.db[name]

    # -- a campaign's jobs -------------------------------------------------------------

    async def campaign_job_totals(self, campaign_id: ObjectId) -> dict[str, int]:
        pipeline: list[dict[str, Any]] = [
            {"$match": {"campaign_id": campaign_id}},
            {
                "$group": {
                    "_id": None,
                    "inboxed": {"$sum": "$counts.inboxed"},
                    "sent": {"$sum": "$counts.sent"},
                    "failed": {"$sum": "$counts.failed"},
                    "suppressed": {"$sum": "$counts.suppressed"},
                    "queued": {
                        "$sum": {
                            "$cond": [
                                {"$in": ["$status", ["PENDING", "LEASED"]]},
                                {"$size": "$user_ids"},
                                0,
                            ]
                        }
                    },
                }
            },
        ]
        cursor = await self._c(OUTBOX).aggregate(pipeline)
        docs = await cursor.to_list(1)
        if not docs:
            return {}
        return {k: int(v) for k, v in docs[0].items() if k != "_id"}

    async def unfinished_jobs(self, campaign_id: ObjectId) -> int:
        return await self._c(OUTBOX).count_documents(
            {"campaign_id": campaign_id, "status": {"$in": ["PENDING", "LEASED"]}}, limit=1
        )

    async def cancel_jobs(self, campaign_id: ObjectId, now: datetime) -> None:
        await self._c(OUTBOX).update_many(
            {"campaign_id": campaign_id, "status": "PENDING"},
            {"$set": {"status": "CANCELLED", "finished_at": now}},
        )

    # -- jobs ----------------------------------------------------------------------------

    async def insert_job(self, doc: dict[str, Any]) -> bool:
        """False when a job with this `_id` exists already (replayed planning, retried notify)."""
        try:
            await self._c(OUTBOX).insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def claim_job(
        self, now: datetime, owner: str, lease_until: datetime
    ) -> dict[str, Any] | None:
        """Lease one due job, or else one whose holder's lease ran out (that worker died).

        Two single-index queries rather than one `$or`: each walks its own index, (status,
        due_at) or (status, lease_until), where SecantusDB ran the `$or` as a scan decoding
        every job of a campaign (500 ids each) on every claim: at 100,000 recipients the
        database spent more per message than the send itself.
        """
        update = {
            "$set": {"status": "LEASED", "lease_owner": owner, "lease_until": lease_until},
            "$inc": {"claims": 1},
        }
        for query, order in (
            ({"status": "PENDING", "due_at": {"$lte": now}}, "due_at"),
            ({"status": "LEASED", "lease_until": {"$lt": now}}, "lease_until"),
        ):
            job = await self._c(OUTBOX).find_one_and_update(
                query, update, sort=[(order, ASCENDING)], return_document=ReturnDocument.AFTER
            )
            if job is not None:
                return job
        return None

    async def update_job(self, job_id: str, owner: str, update: dict[str, Any]) -> bool:
        """Fenced by the lease: a worker that lost its lease can no longer write to the job."""
        result = await self._c(OUTBOX).update_one(
            {"_id": job_id, "status": "LEASED", "lease_owner": owner}, update
        )
        # matched, not modified: an update that happens to change nothing still holds the lease
        return result.matched_count == 1

    async def get_job(self, job_id: str) -> dict[str, Any] | None:
        return await self._c(OUTBOX).find_one({"_id": job_id})

    async def record_failures(self, docs: list[dict[str, Any]]) -> None:
        """Idempotent: a row's `_id` is (job, device), so a replayed batch adds nothing."""
        if not docs:
            return
        try:
            await self._c(FAILURES).insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != _DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise

    async def count_failures(self, job_id: str) -> int:
        return await self._c(FAILURES).count_documents({"job_id": job_id})
