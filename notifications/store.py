"""The only module that touches the notification collections; indexes declared here."""

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
from notifications.models import Campaign, Category, Device, InboxMessage

DEVICES = "notification_devices"
INBOX = "notifications"
PREFERENCES = "notification_preferences"
CAMPAIGNS = "notification_campaigns"
OUTBOX = "notification_outbox"
FAILURES = "notification_failures"
WECHAT_GRANTS = "wechat_subscribe_grants"

_DUPLICATE_KEY = 11000
_NEWEST_FIRST = SortKey((("_id", -1),))

INDEXES = [
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
            IndexModel([("source", ASCENDING), ("user_id", ASCENDING)]),
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
        ],
    ),
    CollectionIndexes(
        CAMPAIGNS,
        [
            IndexModel([("status", ASCENDING), ("scheduled_at", ASCENDING)]),
            # The operators' console lists campaigns newest first, optionally of one status.
            IndexModel([("status", ASCENDING), ("_id", DESCENDING)]),
        ],
    ),
    CollectionIndexes(
        OUTBOX,
        [
            IndexModel([("status", ASCENDING), ("due_at", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("lease_until", ASCENDING)]),
            IndexModel([("campaign_id", ASCENDING), ("status", ASCENDING)]),
        ],
    ),
    CollectionIndexes(FAILURES, [IndexModel([("job_id", ASCENDING)])]),
    # _id is "<openid>:<template id>"; no further index needed.
    CollectionIndexes(WECHAT_GRANTS, []),
]


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
        query: dict[str, Any] = {"user_id": {"$in": list(user_ids)}, "enabled": True}
        if exclude:
            query["_id"] = {"$nin": list(exclude)}
        return [Device.from_document(d) async for d in self._c(DEVICES).find(query)]

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
        cursor = self._c(INBOX).find({"source": source, "user_id": {"$in": list(user_ids)}})
        return [InboxMessage.from_document(d) async for d in cursor]

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

    # -- campaigns -----------------------------------------------------------------------

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

    async def finish_plan(self, campaign_id: ObjectId, owner: str) -> None:
        await self._c(CAMPAIGNS).update_one(
            {"_id": campaign_id, "plan_owner": owner},
            {"$set": {"planned": True, "plan_lease_until": None}},
        )

    async def inc_campaign_opened(self, campaign_id: ObjectId) -> None:
        await self._c(CAMPAIGNS).update_one({"_id": campaign_id}, {"$inc": {"opened": 1}})

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

    async def cancel_jobs(self, campaign_id: ObjectId) -> None:
        await self._c(OUTBOX).update_many(
            {"campaign_id": campaign_id, "status": "PENDING"}, {"$set": {"status": "CANCELLED"}}
        )

    # -- outbox --------------------------------------------------------------------------

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
        """Lease one due job, or one whose holder's lease ran out (that worker died)."""
        return await self._c(OUTBOX).find_one_and_update(
            {
                "$or": [
                    {"status": "PENDING", "due_at": {"$lte": now}},
                    {"status": "LEASED", "lease_until": {"$lt": now}},
                ]
            },
            {
                "$set": {"status": "LEASED", "lease_owner": owner, "lease_until": lease_until},
                "$inc": {"claims": 1},
            },
            sort=[("due_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

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

    # -- WeChat subscribe-message consent ledger ---------------------------------------

    async def add_wechat_grants(
        self, openid: str, template_ids: Sequence[str], long_term: bool, now: datetime
    ) -> None:
        """Each accepted one-time consent allows one more message; long-term ones any number."""
        for template_id in template_ids:
            await self._c(WECHAT_GRANTS).update_one(
                {"_id": f"{openid}:{template_id}"},
                {
                    "$inc": {"remaining": 0 if long_term else 1},
                    "$set": {"updated_at": now, **({"long_term": True} if long_term else {})},
                    "$setOnInsert": {"openid": openid, "template_id": template_id},
                },
                upsert=True,
            )

    async def take_wechat_grant(self, openid: str, template_id: str) -> bool:
        """Consume one consent (guard in the filter: two sends cannot share one); False when
        there is none. A long-term subscription is never used up."""
        key = f"{openid}:{template_id}"
        taken = await self._c(WECHAT_GRANTS).find_one_and_update(
            {"_id": key, "long_term": {"$ne": True}, "remaining": {"$gt": 0}},
            {"$inc": {"remaining": -1}},
        )
        if taken is not None:
            return True
        return await self._c(WECHAT_GRANTS).count_documents({"_id": key, "long_term": True}) == 1

    async def return_wechat_grant(self, openid: str, template_id: str) -> None:
        await self._c(WECHAT_GRANTS).update_one(
            {"_id": f"{openid}:{template_id}", "long_term": {"$ne": True}},
            {"$inc": {"remaining": 1}},
        )

    async def clear_wechat_grant(self, openid: str, template_id: str) -> None:
        await self._c(WECHAT_GRANTS).update_one(
            {"_id": f"{openid}:{template_id}"},
            {"$set": {"remaining": 0, "long_term": False}},
        )

    async def wechat_grant(self, openid: str, template_id: str) -> dict[str, Any] | None:
        return await self._c(WECHAT_GRANTS).find_one({"_id": f"{openid}:{template_id}"})
