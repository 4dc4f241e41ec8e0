"""What the notifications domain holds about a person, for PIPL export and erasure
(app/personal_data.py).

Export: devices (provider, platform, app version, when; not push tokens), inbox messages,
preferences. Erasure: devices, their WeChat subscribe grants, inbox messages and preferences are
deleted. Nothing here needs keeping.

Unfinished outbox jobs list their recipients; a later worker run would write a fresh inbox copy
for every id still listed, so erasure takes the person out of every PENDING or LEASED job
(a LEASED job re-read after its lease runs out then no longer names them; campaign `queued`,
the `$size` of `user_ids`, shrinks with it). A PENDING job left with nobody is cancelled and
its message dropped rather than deleted: its `_id` stays taken, so a replayed planning step
finds it there instead of inserting it afresh, and the TTL on `finished_at` removes it.

A worker that already holds a job's lease has read `user_ids` before the pull. So for every
job that named the person, erasure leaves an inbox *tombstone* under that job's source: a
document `{user_id, source, erased: true}` that takes the (user, source) slot of the unique
index, so the worker's insert of the copy fails there like a copy already written (and
`inbox_writer` counts the person as done, without a push). It replaces a copy written between
the inbox delete and the tombstone (upsert on the key), so no order of the two loses. Tombstones
carry no message and expire after a day (`expires_at` TTL), longer than any lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from app.db import Document
from notifications.models import Provider
from notifications.outbox_store import OUTBOX
from notifications.store import DEVICES, INBOX, PREFERENCES, WECHAT_GRANTS

_DEVICE_FIELDS = {"token": 0, "user_id": 0}
TOMBSTONE_TTL = timedelta(days=1)  # longer than any lease: the job is finished by then


async def _tombstone(
    db: AsyncDatabase[Document], user_id: ObjectId, source: str, now: datetime
) -> None:
    """Take the person's (user, source) inbox slot, replacing a copy a lease holder just wrote."""
    key = {"user_id": user_id, "source": source}
    stone = {**key, "erased": True, "created_at": now, "expires_at": now + TOMBSTONE_TTL}
    try:
        await db[INBOX].replace_one(key, stone, upsert=True)
    except DuplicateKeyError:  # the worker's insert won the race for the slot: replace it
        await db[INBOX].replace_one(key, stone)


async def export(db: AsyncDatabase[Document], user_id: ObjectId) -> dict[str, Any]:
    devices = await db[DEVICES].find({"user_id": user_id}, _DEVICE_FIELDS).to_list(1000)
    inbox = db[INBOX].find({"user_id": user_id}, {"user_id": 0}).sort("_id", 1)
    preferences = await db[PREFERENCES].find_one({"_id": user_id}, {"_id": 0})
    return {
        "devices": devices,
        "inbox": await inbox.to_list(100_000),
        "preferences": preferences or {},
    }


async def erase(db: AsyncDatabase[Document], user_id: ObjectId, now: datetime) -> dict[str, int]:
    openids = await db[DEVICES].distinct(
        "token", {"user_id": user_id, "provider": Provider.WECHAT_MINIPROGRAM.value}
    )
    grants = 0
    for openid in openids:
        prefix = {"$gte": f"{openid}:", "$lt": f"{openid};"}  # "_id" is "<openid>:<template>"
        grants += (await db[WECHAT_GRANTS].delete_many({"_id": prefix})).deleted_count
    devices = await db[DEVICES].delete_many({"user_id": user_id})
    # Jobs first, then the inbox: a job left naming the person would re-create their copy.
    # No index on `user_ids` (a campaign job holds 500 ids; indexing them would cost every
    # campaign insert): this walks the unfinished jobs via the status index, once per erasure.
    unfinished = {"$in": ["PENDING", "LEASED"]}
    named = db[OUTBOX].find({"user_ids": user_id, "status": unfinished}, {"source": 1})
    sources = {d["_id"]: d.get("source") for d in await named.to_list(None)}
    job_ids = list(sources)
    jobs = await db[OUTBOX].update_many(
        {"_id": {"$in": job_ids}, "status": unfinished}, {"$pull": {"user_ids": user_id}}
    )
    emptied = await db[OUTBOX].update_many(
        {"_id": {"$in": job_ids}, "status": "PENDING", "user_ids": {"$size": 0}},
        {"$set": {"status": "CANCELLED", "finished_at": now}, "$unset": {"message": ""}},
    )
    inbox = await db[INBOX].delete_many({"user_id": user_id, "erased": {"$ne": True}})
    for source in {s for s in sources.values() if s}:
        await _tombstone(db, user_id, source, now)
    await db[PREFERENCES].delete_one({"_id": user_id})
    return {
        "devicesDeleted": devices.deleted_count,
        "subscribeGrantsDeleted": grants,
        "inboxDeleted": inbox.deleted_count,
        "outboxJobsUpdated": jobs.modified_count,
        "outboxJobsCancelled": emptied.modified_count,
    }
