"""用证记录 and holder events: every check of a licence, and what its holder is told."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, InsertOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from app.db import CollectionIndexes, Document
from app.pagination import Connection, SortKey, paginate
from app.txn import commit_together
from electronic_cards.models import UsageRecord

USAGE_RECORDS = "licence_usage_records"
EVENTS = "licence_events"

INDEXES = [
    CollectionIndexes(
        USAGE_RECORDS,
        [
            IndexModel([("licence_id", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)]),
            IndexModel([("holder_id", ASCENDING), ("at", DESCENDING)]),
            IndexModel([("verifier_user_id", ASCENDING), ("at", DESCENDING)]),
        ],
    ),
    CollectionIndexes(
        EVENTS,
        [
            IndexModel([("holder_id", ASCENDING), ("at", DESCENDING)]),
            IndexModel([("dedupe_key", ASCENDING)], unique=True, sparse=True),
        ],
    ),
]

USAGE_SORT = SortKey((("at", -1), ("_id", -1)))


class UsageStore:
    """A mixin of `CardsStore` (electronic_cards/store.py)."""

    db: AsyncDatabase[Document]

    async def insert_usage_record(
        self,
        record: UsageRecord,
        event: dict[str, Any] | None = None,
        also: list[InsertOne[Document]] | None = None,
    ) -> None:
        """The record, the holder's event and `also` (the holder's notification job and inbox
        copy) together or not at all: one bulkWrite in one transaction. A database failure
        between them must not leave a check the holder never hears of.

        The token's claim (check 6) stays a write of its own, before: inside the transaction, a
        transaction left open by a process that died before its commit would hold the token's
        `_id` until the database reaps it (60 s), and the verifier's rescan would be refused
        that long instead of getting its first answer back at once."""
        if event is None:
            await self.db[USAGE_RECORDS].insert_one(record.to_document())
            return
        name = self.db.name
        await commit_together(
            self.db.client,
            [
                InsertOne(record.to_document(), namespace=f"{name}.{USAGE_RECORDS}"),
                InsertOne(event, namespace=f"{name}.{EVENTS}"),
                *(also or []),
            ],
        )

    async def usage_records(
        self, licence_id: ObjectId, first: int | None, after: str | None
    ) -> Connection[UsageRecord]:
        return await paginate(
            self.db[USAGE_RECORDS],
            {"licence_id": licence_id},
            USAGE_SORT,
            first,
            after,
            UsageRecord.from_document,
        )

    async def insert_event(self, doc: dict[str, Any]) -> bool:
        """Record an event for the holder; False when its `dedupe_key` was recorded before."""
        try:
            await self.db[EVENTS].insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def events_of(self, holder_id: ObjectId, limit: int = 100) -> list[dict[str, Any]]:
        cursor = self.db[EVENTS].find({"holder_id": holder_id}).sort("at", DESCENDING)
        return await cursor.limit(limit).to_list(limit)
