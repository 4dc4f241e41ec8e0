"""Devices, inbox copies and preferences; with `campaign_store`, `outbox_store` and
`wechat_store` the only modules that touch the notification collections (split by collection
when this one passed 400 lines). `INDEXES` lists all of them for app.db."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from app.db import CollectionIndexes, Document
from app.pagination import Connection, SortKey, paginate
from notifications.campaign_store import CAMPAIGNS
from notifications.campaign_store import INDEXES as CAMPAIGN_INDEXES
from notifications.models import Category, Device, InboxMessage
from notifications.outbox_store import FAILURES, OUTBOX
from notifications.outbox_store import INDEXES as OUTBOX_INDEXES
from notifications.wechat_store import INDEXES as WECHAT_INDEXES
from notifications.wechat_store import WECHAT_GRANTS

DEVICES = "notification_devices"
INBOX = "notifications"
PREFERENCES = "notification_preferences"

_DUPLICATE_KEY = 11000
IN_SLICE = 100  # ids per $in on the hot path (see enabled_devices)

_OWN_INDEXES = [
    CollectionIndexes(
        DEVICES,
        [
            # One row per installation: a token that moves to another user moves this row.
            IndexModel([("provider", ASCENDING), ("token", ASCENDING)], unique=True),
            IndexModel([("user_id", ASCENDING), ("enabled", ASCENDING)]),
        ],
    ),
    CollectionIndexes(
        INBOX,
        [
            # Exactly-once into the inbox: a source writes at most one copy per user.
            IndexModel([("user_id", ASCENDING), ("source", ASCENDING)], unique=True),
            IndexModel([("user_id", ASCENDING), ("_id", DESCENDING)]),
            IndexModel([("user_id", ASCENDING), ("read_at", ASCENDING), ("_id", DESCENDING)]),
            IndexModel(
                [("user_id", ASCENDING), ("category", ASCENDING), ("created_at", DESCENDING)]
            ),
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
            # The daily policy cap, atomic: a user's n-th capped push of a day can be written
            # once, so two workers cannot both push the 3rd (see inbox_writer).
            IndexModel(
                [("user_id", ASCENDING), ("push_slot", ASCENDING)],
                unique=True,
                partialFilterExpression={"push_slot": {"$exists": True}},
                name="user_id_1_push_slot_1_cap",
            ),
        ],
    ),
]
# Every notification collection's indexes, for app.db (one list, as before the split).
INDEXES = _OWN_INDEXES + CAMPAIGN_INDEXES + OUTBOX_INDEXES + WECHAT_INDEXES


class NotificationStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db

    def _c(self, name: str) -> AsyncCollection[Document]:
        return self.db[name]

    # -- devices -------------------------------------------------------------------------

    async def upsert_device(self, doc: dict[str, Any], now: datetime) -> Device:
        """Insert, or move an existing (provider, token) row to this user and re-enable it."""
        key = {"provider": doc["provider"], "token": doc["token"]}
        fields = {k: v for k, v in doc.items() if k not in key}
        update = {
            "$set": {**fields, "enabled": True, "disabled_reason": None, "last_seen_at": now},
            "$setOnInsert": {"created_at": now},
        }
        try:
            saved = await self._c(DEVICES).find_one_and_update(
                key, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:  # two registrations of one new token raced: the row exists
            saved = await self._c(DEVICES).find_one_and_update(
                key, update, return_document=ReturnDocument.AFTER
            )
        if saved is None:
            raise RuntimeError("device upsert returned nothing")
        return Device.from_document(saved)

    async def get_device(self, device_id: ObjectId, user_id: ObjectId) -> Device | None:
        doc = await self._c(DEVICES).find_one({"_id": device_id, "user_id": user_id})
        return Device.from_document(doc) if doc else None

    async def delete_device(self, device_id: ObjectId, user_id: ObjectId) -> bool:
        result = await self._c(DEVICES).delete_one({"_id": device_id, "user_id": user_id})
        return result.deleted_count == 1

    async def user_devices(self, user_id: ObjectId) -> list[Device]:
        cursor = self._c(DEVICES).find({"user_id": user_id}).sort("_id", ASCENDING)
        return [Device.from_document(d) async for d in cursor]

    async def enabled_devices(
        self, user_ids: Sequence[ObjectId], exclude: Sequence[ObjectId] = ()
    ) -> list[Device]:
        """The enabled devices of these users, minus `exclude` (filtered here, not in a $nin:
        SecantusDB matches $in/$nin element by element, so a 500-id $nin costs 500 × n)."""
        skip = set(exclude)
        devices: list[Device] = []
        # Slices of IN_SLICE ids: one round trip more per slice on MongoDB, a fifth of the
        # matching work on SecantusDB (whose $in is linear in the list for every candidate).
        for start in range(0, len(user_ids), IN_SLICE):
            ids = list(user_ids[start : start + IN_SLICE])
            cursor = self._c(DEVICES).find({"user_id": {"$in": ids}, "enabled": True})
            devices += [Device.from_document(d) async for d in cursor if d["_id"] not in skip]
        return devices

    async def disable_devices(self, device_ids: Sequence[ObjectId], reason: str) -> None:
        if device_ids:
            await self._c(DEVICES).update_many(
                {"_id": {"$in": list(device_ids)}},
                {"$set": {"enabled": False, "disabled_reason": reason}},
            )

    async def insert_devices(self, docs: list[dict[str, Any]]) -> None:
        """Bulk registration (benchmarks and imports); duplicates are an error here."""
        if docs:
            await self._c(DEVICES).insert_many(docs, ordered=False)

    # -- inbox ---------------------------------------------------------------------------

    async def insert_inbox(self, messages: Sequence[InboxMessage]) -> list[InboxMessage]:
        """Insert what is new; a copy that already exists for (user, source) is left alone.

        Returns the messages this call inserted (the ones to announce to subscribers).
        """
        if not messages:
            return []
        docs = [m.to_document() for m in messages]
        failed: set[int] = set()
        try:
            await self._c(INBOX).insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
            failed = {int(e["index"]) for e in errors}
        return [m for i, m in enumerate(messages) if i not in failed]

    async def inbox_for_source(
        self, source: str, user_ids: Sequence[ObjectId]
    ) -> list[InboxMessage]:
        return (await self.slots_for_source(source, user_ids))[0]

    async def slots_for_source(
        self, source: str, user_ids: Sequence[ObjectId]
    ) -> tuple[list[InboxMessage], set[ObjectId]]:
        """The copies of `source` for these users, and who of them holds an erasure tombstone
        instead (notifications/personal_data.py: the person was erased, no copy may exist)."""
        cursor = self._c(INBOX).find({"source": source, "user_id": {"$in": list(user_ids)}})
        copies: list[InboxMessage] = []
        erased: set[ObjectId] = set()
        async for doc in cursor:
            if doc.get("erased"):
                erased.add(doc["user_id"])
            else:
                copies.append(InboxMessage.from_document(doc))
        return copies, erased

    async def inbox_page(
        self, user_id: ObjectId, first: int | None, after: str | None, unread_only: bool
    ) -> Connection[InboxMessage]:
        query: dict[str, Any] = {"user_id": user_id}
        if unread_only:
            query["read_at"] = None
        return await paginate(
            self._c(INBOX),
            query,
            SortKey((("_id", DESCENDING),)),
            first,
            after,
            InboxMessage.from_document,
        )

    async def get_inbox_message(
        self, message_id: ObjectId, user_id: ObjectId
    ) -> InboxMessage | None:
        doc = await self._c(INBOX).find_one({"_id": message_id, "user_id": user_id})
        return InboxMessage.from_document(doc) if doc else None

    async def unread_count(self, user_id: ObjectId) -> int:
        return await self._c(INBOX).count_documents({"user_id": user_id, "read_at": None})

    async def mark_read(self, message_id: ObjectId, user_id: ObjectId, now: datetime) -> bool:
        result = await self._c(INBOX).update_one(
            {"_id": message_id, "user_id": user_id, "read_at": None}, {"$set": {"read_at": now}}
        )
        return result.modified_count == 1

    async def mark_all_read(self, user_id: ObjectId, now: datetime) -> int:
        result = await self._c(INBOX).update_many(
            {"user_id": user_id, "read_at": None}, {"$set": {"read_at": now}}
        )
        return result.modified_count

    async def mark_opened(
        self, message_id: ObjectId, user_id: ObjectId, now: datetime
    ) -> InboxMessage | None:
        """The first open sets `opened_at` (and reads it); later ones change nothing."""
        doc = await self._c(INBOX).find_one_and_update(
            {"_id": message_id, "user_id": user_id, "opened_at": None},
            {"$set": {"opened_at": now}, "$min": {"read_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return InboxMessage.from_document(doc) if doc else None

    async def policy_pushes_since(
        self, user_ids: Sequence[ObjectId], since: datetime, exclude_source: str
    ) -> dict[ObjectId, int]:
        """How many POLICY pushes each user got since `since` (the frequency cap's count)."""
        pipeline: list[dict[str, Any]] = [
            {
                "$match": {
                    "user_id": {"$in": list(user_ids)},
                    "category": Category.POLICY.value,
                    "created_at": {"$gte": since},
                    "push": True,
                    "source": {"$ne": exclude_source},
                }
            },
            {"$group": {"_id": "$user_id", "n": {"$sum": 1}}},
        ]
        cursor = await self._c(INBOX).aggregate(pipeline)
        return {d["_id"]: int(d["n"]) async for d in cursor}

    # -- preferences ---------------------------------------------------------------------

    async def opted_out(self, user_id: ObjectId) -> list[str]:
        doc = await self._c(PREFERENCES).find_one({"_id": user_id})
        return list(doc.get("opted_out", [])) if doc else []

    async def opted_out_many(self, user_ids: Sequence[ObjectId]) -> dict[ObjectId, set[str]]:
        cursor = self._c(PREFERENCES).find({"_id": {"$in": list(user_ids)}})
        return {d["_id"]: set(d.get("opted_out", [])) async for d in cursor}

    async def set_opted_out(self, user_id: ObjectId, categories: list[str], now: datetime) -> None:
        await self._c(PREFERENCES).update_one(
            {"_id": user_id},
            {"$set": {"opted_out": categories, "updated_at": now}},
            upsert=True,
        )


__all__ = [
    "CAMPAIGNS",
    "DEVICES",
    "FAILURES",
    "INBOX",
    "INDEXES",
    "OUTBOX",
    "PREFERENCES",
    "WECHAT_GRANTS",
    "NotificationStore",
]
