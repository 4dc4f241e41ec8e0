"""The licences collection: a holder's licences, their guarded status changes, expiry scans."""

from __future__ import annotations

from datetime import date
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, InsertOne, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from app.db import CollectionIndexes, Document
from electronic_cards.models import Licence, LicenceStatus

LICENCES = "licences"

INDEXES = [
    CollectionIndexes(
        LICENCES,
        [
            IndexModel([("holder_id", ASCENDING), ("created_at", ASCENDING)]),
            IndexModel([("status_list_id", ASCENDING), ("status_index", ASCENDING)], unique=True),
            IndexModel([("status_list_id", ASCENDING), ("status", ASCENDING)]),
            IndexModel([("valid_until", ASCENDING)]),
            # holders.LicenceHolders: a type's holders in holder order (campaign targeting)
            IndexModel([("type_code", ASCENDING), ("status", ASCENDING), ("holder_id", ASCENDING)]),
        ],
    ),
]


class StatusSlotTaken(Exception):
    """The random status-list index was taken meanwhile; pick another."""


class LicenceStore:
    """A mixin of `CardsStore` (electronic_cards/store.py)."""

    db: AsyncDatabase[Document]

    def licence_write(self, licence: Licence) -> InsertOne[Document]:
        """`insert_licence` as a write for a transaction's batch."""
        return InsertOne(licence.to_document(), namespace=f"{self.db.name}.{LICENCES}")

    async def insert_licence(self, licence: Licence) -> None:
        try:
            await self.db[LICENCES].insert_one(licence.to_document())
        except DuplicateKeyError as exc:
            raise StatusSlotTaken from exc

    async def get_licence(self, licence_id: ObjectId) -> Licence | None:
        doc = await self.db[LICENCES].find_one({"_id": licence_id})
        return Licence.from_document(doc) if doc else None

    async def holder_ids_of_type(
        self, type_code: str, after: ObjectId | None, limit: int, today: date
    ) -> list[ObjectId]:
        """Holders of valid, unexpired licences of a type, in holder order (with repeats when
        one holder has two): one keyset page of `limit` licences."""
        clauses: list[dict[str, Any]] = [
            {"type_code": type_code, "status": LicenceStatus.VALID.value},
            # valid_until is an ISO date: still valid on its last day (Licence.is_expired)
            {"$or": [{"valid_until": None}, {"valid_until": {"$gte": today.isoformat()}}]},
        ]
        if after is not None:
            clauses.append({"holder_id": {"$gt": after}})
        cursor = self.db[LICENCES].find({"$and": clauses}, {"holder_id": 1, "_id": 0})
        return [d["holder_id"] async for d in cursor.sort("holder_id", ASCENDING).limit(limit)]

    async def licences_of(self, holder_id: ObjectId) -> list[Licence]:
        cursor = self.db[LICENCES].find({"holder_id": holder_id}).sort("created_at", ASCENDING)
        return [Licence.from_document(d) async for d in cursor]

    async def get_licences(self, ids: list[ObjectId]) -> dict[ObjectId, Licence]:
        cursor = self.db[LICENCES].find({"_id": {"$in": ids}})
        return {d["_id"]: Licence.from_document(d) async for d in cursor}

    async def find_by_status_slot(self, list_id: str, index: int) -> Licence | None:
        doc = await self.db[LICENCES].find_one({"status_list_id": list_id, "status_index": index})
        return Licence.from_document(doc) if doc else None

    async def transition(
        self,
        licence_id: ObjectId,
        from_statuses: tuple[LicenceStatus, ...],
        to: LicenceStatus,
        change: dict[str, Any],
    ) -> Licence | None:
        """Guarded status change; None when the licence was not in one of `from_statuses`."""
        doc = await self.db[LICENCES].find_one_and_update(
            {"_id": licence_id, "status": {"$in": [s.value for s in from_statuses]}},
            {"$set": {"status": to.value}, "$push": {"status_history": change}},
            return_document=ReturnDocument.AFTER,
        )
        return Licence.from_document(doc) if doc else None

    async def expiring_between(self, start: str, end: str) -> list[Licence]:
        cursor = self.db[LICENCES].find(
            {"valid_until": {"$gte": start, "$lte": end}, "status": LicenceStatus.VALID.value}
        )
        return [Licence.from_document(d) async for d in cursor]
