"""What the notifications domain holds about a person, for PIPL export and erasure
(app/personal_data.py).

Export: devices (provider, platform, app version, when; not push tokens), inbox messages,
preferences. Erasure: devices, their WeChat subscribe grants, inbox messages and preferences are
deleted. Nothing here needs keeping.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from notifications.models import Provider
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
    inbox = await db[INBOX].delete_many({"user_id": user_id})
    await db[PREFERENCES].delete_one({"_id": user_id})
    return {
        "devicesDeleted": devices.deleted_count,
        "subscribeGrantsDeleted": grants,
        "inboxDeleted": inbox.deleted_count,
    }
