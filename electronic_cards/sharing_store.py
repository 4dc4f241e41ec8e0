"""授权用证, 委托用证 and 数据纠错: grants, delegations and correction tickets."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from app.db import CollectionIndexes, Document
from electronic_cards.models import CorrectionTicket, Delegation, Grant

GRANTS = "licence_grants"
DELEGATIONS = "licence_delegations"
CORRECTIONS = "licence_corrections"

INDEXES = [
    CollectionIndexes(
        GRANTS,
        [
            IndexModel([("licence_id", ASCENDING), ("created_at", DESCENDING)]),
            IndexModel([("organization_code", ASCENDING), ("expires_at", ASCENDING)]),
        ],
    ),
    CollectionIndexes(
        DELEGATIONS,
        [
            IndexModel([("licence_id", ASCENDING), ("created_at", DESCENDING)]),
            IndexModel([("delegate_id", ASCENDING), ("expires_at", ASCENDING)]),
        ],
    ),
    CollectionIndexes(CORRECTIONS, [IndexModel([("licence_id", ASCENDING)])]),
]


class SharingStore:
    """A mixin of `CardsStore` (electronic_cards/store.py)."""

    db: AsyncDatabase[Document]

    async def insert_grant(self, grant: Grant) -> None:
        await self.db[GRANTS].insert_one(
            {
                "_id": grant.id,
                "licence_id": grant.licence_id,
                "holder_id": grant.holder_id,
                "organization_code": grant.organization_code,
                "purpose": grant.purpose,
                "created_at": grant.created_at,
                "expires_at": grant.expires_at,
                "revoked_at": None,
            }
        )

    async def get_grant(self, grant_id: ObjectId) -> Grant | None:
        doc = await self.db[GRANTS].find_one({"_id": grant_id})
        return Grant.from_document(doc) if doc else None

    async def revoke_grant(self, grant_id: ObjectId, now: datetime) -> Grant | None:
        doc = await self.db[GRANTS].find_one_and_update(
            {"_id": grant_id, "revoked_at": None},
            {"$set": {"revoked_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return Grant.from_document(doc) if doc else None

    async def grants_of(self, licence_id: ObjectId) -> list[Grant]:
        cursor = self.db[GRANTS].find({"licence_id": licence_id}).sort("created_at", DESCENDING)
        return [Grant.from_document(d) async for d in cursor.limit(100)]

    async def insert_delegation(self, delegation: Delegation) -> None:
        await self.db[DELEGATIONS].insert_one(
            {
                "_id": delegation.id,
                "licence_id": delegation.licence_id,
                "holder_id": delegation.holder_id,
                "delegate_id": delegation.delegate_id,
                "purpose": delegation.purpose,
                "created_at": delegation.created_at,
                "expires_at": delegation.expires_at,
                "revoked_at": None,
            }
        )

    async def get_delegation(self, delegation_id: ObjectId) -> Delegation | None:
        doc = await self.db[DELEGATIONS].find_one({"_id": delegation_id})
        return Delegation.from_document(doc) if doc else None

    async def revoke_delegation(self, delegation_id: ObjectId, now: datetime) -> Delegation | None:
        doc = await self.db[DELEGATIONS].find_one_and_update(
            {"_id": delegation_id, "revoked_at": None},
            {"$set": {"revoked_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return Delegation.from_document(doc) if doc else None

    async def active_delegation(
        self, licence_id: ObjectId, delegate_id: ObjectId, now: datetime
    ) -> Delegation | None:
        doc = await self.db[DELEGATIONS].find_one(
            {
                "licence_id": licence_id,
                "delegate_id": delegate_id,
                "revoked_at": None,
                "expires_at": {"$gt": now},
            }
        )
        return Delegation.from_document(doc) if doc else None

    async def delegations_to(self, delegate_id: ObjectId, now: datetime) -> list[Delegation]:
        cursor = self.db[DELEGATIONS].find(
            {"delegate_id": delegate_id, "revoked_at": None, "expires_at": {"$gt": now}}
        )
        return [Delegation.from_document(d) async for d in cursor.limit(100)]

    async def insert_correction(self, ticket: CorrectionTicket) -> None:
        await self.db[CORRECTIONS].insert_one(
            {
                "_id": ticket.id,
                "licence_id": ticket.licence_id,
                "holder_id": ticket.holder_id,
                "issuer_code": ticket.issuer_code,
                "description": ticket.description,
                "status": ticket.status,
                "created_at": ticket.created_at,
            }
        )
