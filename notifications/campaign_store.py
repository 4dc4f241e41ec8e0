"""The campaigns collection: drafts, four-eyes transitions, the planner's lease and cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from app.db import CollectionIndexes, Document
from app.pagination import Connection, SortKey, paginate
from notifications.models import Campaign

CAMPAIGNS = "notification_campaigns"

_NEWEST_FIRST = SortKey((("_id", -1),))

INDEXES = [
    CollectionIndexes(
        CAMPAIGNS,
        [
            IndexModel([("status", ASCENDING), ("scheduled_at", ASCENDING)]),
            # The operators' console lists campaigns newest first, optionally of one status.
            IndexModel([("status", ASCENDING), ("_id", DESCENDING)]),
        ],
    ),
]


class CampaignStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db

    def _c(self, name: str) -> AsyncCollection[Document]:
        return self.db[name]

    async def insert_campaign(self, doc: dict[str, Any]) -> Campaign:
        await self._c(CAMPAIGNS).insert_one(doc)
        return Campaign.from_document(doc)

    async def get_campaign(self, campaign_id: ObjectId) -> Campaign | None:
        doc = await self._c(CAMPAIGNS).find_one({"_id": campaign_id})
        return Campaign.from_document(doc) if doc else None

    async def list_campaigns(
        self, status: str | None, first: int | None, after: str | None
    ) -> Connection[Campaign]:
        """Newest first (ObjectIds grow with time), optionally of one status."""
        query: dict[str, Any] = {"status": status} if status else {}
        return await paginate(
            self._c(CAMPAIGNS), query, _NEWEST_FIRST, first, after, Campaign.from_document
        )

    async def transition_campaign(
        self, campaign_id: ObjectId, guard: dict[str, Any], changes: dict[str, Any]
    ) -> Campaign | None:
        """The guard sits in the filter: None means the campaign was not in that state."""
        doc = await self._c(CAMPAIGNS).find_one_and_update(
            {"_id": campaign_id, **guard},
            {"$set": changes},
            return_document=ReturnDocument.AFTER,
        )
        return Campaign.from_document(doc) if doc else None

    async def claim_campaign_planning(
        self, now: datetime, owner: str, lease_until: datetime
    ) -> dict[str, Any] | None:
        """One approved campaign whose time has come, for this worker to cut into chunks."""
        return await self._c(CAMPAIGNS).find_one_and_update(
            {
                "status": {"$in": ["APPROVED", "SENDING"]},
                "planned": {"$ne": True},
                "$or": [{"scheduled_at": None}, {"scheduled_at": {"$lte": now}}],
                "$and": [{"$or": [{"plan_lease_until": None}, {"plan_lease_until": {"$lt": now}}]}],
            },
            {
                "$set": {
                    "status": "SENDING",
                    "plan_owner": owner,
                    "plan_lease_until": lease_until,
                }
            },
            return_document=ReturnDocument.AFTER,
        )

    async def advance_plan(
        self,
        campaign_id: ObjectId,
        owner: str,
        seq: int,
        cursor: ObjectId | None,
        recipients: int,
        lease_until: datetime,
    ) -> bool:
        """Move the planning cursor past chunk `seq` (guarded, so each chunk counts once)."""
        result = await self._c(CAMPAIGNS).update_one(
            {"_id": campaign_id, "plan_owner": owner, "plan_seq": {"$in": [None, seq - 1]}},
            {
                "$set": {"plan_seq": seq, "plan_cursor": cursor, "plan_lease_until": lease_until},
                "$inc": {"targeted": recipients},
            },
        )
        return result.modified_count == 1

    async def release_plan(self, campaign_id: ObjectId, owner: str, cursor: ObjectId) -> None:
        """Between steps: the next step may be taken at once, by this planner or another."""
        await self._c(CAMPAIGNS).update_one(
            {"_id": campaign_id, "plan_owner": owner},
            {"$set": {"plan_cursor": cursor, "plan_lease_until": None}},
        )

    async def finish_plan(self, campaign_id: ObjectId, owner: str) -> None:
        await self._c(CAMPAIGNS).update_one(
            {"_id": campaign_id, "plan_owner": owner},
            {"$set": {"planned": True, "plan_lease_until": None}},
        )

    async def inc_campaign_opened(self, campaign_id: ObjectId) -> None:
        await self._c(CAMPAIGNS).update_one({"_id": campaign_id}, {"$inc": {"opened": 1}})
