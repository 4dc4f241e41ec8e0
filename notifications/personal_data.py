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

Remaining window: a worker holding a job's lease at the moment of erasure has already read
`user_ids`; if it writes the copies after the inbox delete, one copy for the erased id survives
until its `expires_at` (the message TTL). Checking the user directory there would make the
notifications worker read the auth domain's collection on every job; the window is as long as
one job's delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from notifications.models import Provider
from notifications.outbox_store import OUTBOX
from notifications.store import DEVICES, INBOX, PREFERENCES, WECHAT_GRANTS

_DEVICE_FIELDS = {"token": 0, "user_id": 0}


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
    job_ids = await db[OUTBOX].distinct("_id", {"user_ids": user_id, "status": unfinished})
    jobs = await db[OUTBOX].update_many(
        {"_id": {"$in": job_ids}, "status": unfinished}, {"$pull": {"user_ids": user_id}}
    )
    emptied = await db[OUTBOX].update_many(
        {"_id": {"$in": job_ids}, "status": "PENDING", "user_ids": {"$size": 0}},
        {"$set": {"status": "CANCELLED", "finished_at": now}, "$unset": {"message": ""}},
    )
    inbox = await db[INBOX].delete_many({"user_id": user_id})
    await db[PREFERENCES].delete_one({"_id": user_id})
    return {
        "devicesDeleted": devices.deleted_count,
        "subscribeGrantsDeleted": grants,
        "inboxDeleted": inbox.deleted_count,
        "outboxJobsUpdated": jobs.modified_count,
        "outboxJobsCancelled": emptied.modified_count,
    }
