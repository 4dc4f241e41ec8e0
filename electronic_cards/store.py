"""The only module that touches the licence wallet's collections."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, InsertOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from pymongo.results import ClientBulkWriteResult

from app.db import CollectionIndexes, Document
from app.pagination import Connection, SortKey, paginate
from app.txn import DuplicateKeyAt, commit_together
from electronic_cards.models import (
    CorrectionTicket,
    Delegation,
    Grant,
    Licence,
    LicenceStatus,
    UsageRecord,
)

LICENCES = "licences"
QR_TOKENS = "licence_qr_tokens"
MINT_WINDOWS = "licence_qr_mint_windows"
CONSUMPTIONS = "licence_qr_consumptions"
USAGE_RECORDS = "licence_usage_records"
EVENTS = "licence_events"
GRANTS = "licence_grants"
DELEGATIONS = "licence_delegations"
CORRECTIONS = "licence_corrections"
SDL_KEYS = "sdl_signing_keys"
STATUS_LISTS = "sdl_status_lists"

STATUS_LIST_SIZE = 131_072  # spec §5: at least this many entries per list
STATUS_LIST_FILL = STATUS_LIST_SIZE // 2  # open a new list at half: random picks stay cheap

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
    CollectionIndexes(
        QR_TOKENS,
        [
            IndexModel([("ref", ASCENDING)], unique=True, sparse=True),
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
        ],
    ),
    CollectionIndexes(
        MINT_WINDOWS, [IndexModel([("updated_at", ASCENDING)], expireAfterSeconds=3600)]
    ),
    CollectionIndexes(
        CONSUMPTIONS, [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0)]
    ),
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
    CollectionIndexes(SDL_KEYS, [IndexModel([("activates_at", DESCENDING)])]),
    CollectionIndexes(STATUS_LISTS, [IndexModel([("allocated", ASCENDING)])]),
]

USAGE_SORT = SortKey((("at", -1), ("_id", -1)))


class StatusSlotTaken(Exception):
    """The random status-list index was taken meanwhile; pick another."""


class CardsStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db

    # -- signing keys (keys.KeyStoreProtocol) -------------------------------------------------

    async def sdl_keys(self) -> list[dict[str, Any]]:
        return await self.db[SDL_KEYS].find({}).to_list(None)

    async def insert_sdl_key(self, doc: dict[str, Any]) -> None:
        await self.db[SDL_KEYS].insert_one(doc)

    # -- status lists ------------------------------------------------------------------------

    async def open_status_list(self, now: datetime) -> str:
        """The id of a list with room, counting one more slot in it."""
        for _ in range(5):
            doc = await self.db[STATUS_LISTS].find_one_and_update(
                {"allocated": {"$lt": STATUS_LIST_FILL}},
                {"$inc": {"allocated": 1}},
                sort=[("allocated", ASCENDING)],
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                return str(doc["_id"])
            await self._open_another(now)
        raise RuntimeError("could not open a status list")

    async def status_list_with_room(self, now: datetime) -> str:
        """The id of a list with room, not counting anything yet: for a licence written in a
        caller's transaction, counted (`count_status_slot`) once that committed, so that
        refused or repeated requests count nothing."""
        for _ in range(5):
            doc = await self.db[STATUS_LISTS].find_one(
                {"allocated": {"$lt": STATUS_LIST_FILL}}, sort=[("allocated", ASCENDING)]
            )
            if doc is not None:
                return str(doc["_id"])
            await self._open_another(now)
        raise RuntimeError("could not open a status list")

    async def count_status_slot(self, list_id: str) -> None:
        await self.db[STATUS_LISTS].update_one({"_id": list_id}, {"$inc": {"allocated": 1}})

    async def _open_another(self, now: datetime) -> None:
        count = await self.db[STATUS_LISTS].count_documents({})
        # another process may open it first: then take a slot in that one
        with contextlib.suppress(DuplicateKeyError):
            await self.db[STATUS_LISTS].insert_one(
                {"_id": str(count + 1), "allocated": 0, "created_at": now}
            )

    async def status_list_ids(self) -> list[str]:
        """Every list's id (a handful: a list holds 131,072 entries), oldest first."""
        cursor = self.db[STATUS_LISTS].find({}, {"_id": 1}).sort("created_at", ASCENDING)
        return [str(d["_id"]) async for d in cursor.limit(1000)]

    async def status_list_exists(self, list_id: str) -> bool:
        return await self.db[STATUS_LISTS].count_documents({"_id": list_id}, limit=1) > 0

    async def non_valid_entries(self, list_id: str) -> list[tuple[int, LicenceStatus]]:
        cursor = self.db[LICENCES].find(
            {
                "status_list_id": list_id,
                "status": {"$in": [LicenceStatus.REVOKED.value, LicenceStatus.SUSPENDED.value]},
            },
            {"status_index": 1, "status": 1},
        )
        return [(d["status_index"], LicenceStatus(d["status"])) async for d in cursor]

    # -- licences ----------------------------------------------------------------------------

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

    # -- 亮证 tokens --------------------------------------------------------------------------

    async def mint(
        self,
        licence_id: ObjectId,
        now: datetime,
        token_doc: dict[str, Any],
        *,
        limit: int,
        window: timedelta,
    ) -> bool:
        """Note one more token minted and store its row, unless `limit` were minted within
        `window` (False, nothing written). One transaction: a slot is never taken without its
        token row, nor a row stored without its slot.

        The window document keeps the last `limit` mint times; a mint is allowed when fewer
        than `limit` are recorded or the oldest of them left the window. One update on the
        licence's `_id` (an upsert) decides and appends in the database, with the condition in
        an update pipeline: a refusal leaves the document unmodified. Not a filter with a
        top-level `$or` (the earlier form): SecantusDB plans any filter with a top-level
        operator as a collection scan, which made every mint read every window of the last
        hour. Concurrent mints of one licence conflict on the document and are serialised by
        the transaction's retry, so they cannot both take the last slot.
        """
        name = self.db.name
        slot = UpdateOne(
            {"_id": licence_id},
            _admit_pipeline(now, now - window, limit),
            upsert=True,
            namespace=f"{name}.{MINT_WINDOWS}",
        )
        row = InsertOne(token_doc, namespace=f"{name}.{QR_TOKENS}")

        def check(result: ClientBulkWriteResult) -> None:
            admitted = result.update_results[0]
            if admitted.upserted_id is None and admitted.modified_count != 1:
                raise _MintRefused()

        try:
            await commit_together(self.db.client, [slot, row], check)
        except _MintRefused:
            return False
        except DuplicateKeyAt as exc:
            if exc.index != 0:
                raise
            return False  # a concurrent first mint of this licence inserted the window
        return True

    async def licence_by_ref(self, ref: bytes) -> Licence | None:
        """The live licence a token ref maps to, if any: one round trip, the licence joined to
        the token on the server (ref's unique index, then licences' _id)."""
        cursor = await self.db[QR_TOKENS].aggregate(
            [
                {"$match": {"ref": ref}},
                {"$limit": 1},
                {
                    "$lookup": {
                        "from": LICENCES,
                        "localField": "licence_id",
                        "foreignField": "_id",
                        "as": "licence",
                    }
                },
            ]
        )
        docs = await cursor.to_list(1)
        joined = docs[0]["licence"] if docs else []
        return Licence.from_document(joined[0]) if joined else None

    async def claim_token(
        self,
        cti: str,
        verifier_id: ObjectId,
        at: datetime,
        expires_at: datetime,
        answer: dict[str, Any],
    ) -> dict[str, Any] | None:
        """Consume token `cti` for this verifier, keeping the `answer` it is given; returns the
        earlier claim (with its answer) if there is one. One insert: the unique `_id` makes the
        first verifier win atomically, and the answer is never missing from a claim."""
        try:
            await self.db[CONSUMPTIONS].insert_one(
                {
                    "_id": cti,
                    "verifier_id": verifier_id,
                    "at": at,
                    "expires_at": expires_at,
                    "answer": answer,
                }
            )
        except DuplicateKeyError:
            return await self.db[CONSUMPTIONS].find_one({"_id": cti})
        return None

    # -- usage records and holder events ------------------------------------------------------

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

    # -- grants, delegations, corrections -----------------------------------------------------

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


class _MintRefused(Exception):
    """The mint window is full: abort the mint's transaction."""


def _admit_pipeline(now: datetime, cutoff: datetime, limit: int) -> list[dict[str, Any]]:
    """Append `now` to the window (keeping the last `limit`) if fewer than `limit` mints are
    recorded or the oldest is at or before `cutoff`; otherwise change nothing."""
    mints = {"$ifNull": ["$mints", []]}
    admit = {
        "$or": [
            {"$lt": [{"$size": mints}, limit]},
            {"$lte": [{"$arrayElemAt": [mints, 0]}, cutoff]},
        ]
    }
    appended = {"$slice": [{"$concatArrays": [mints, [now]]}, -limit]}
    return [
        {
            "$set": {
                "mints": {"$cond": [admit, appended, "$mints"]},
                "updated_at": {"$cond": [admit, now, "$updated_at"]},
            }
        }
    ]
