"""The WeChat subscribe-message consent ledger: one row per (openid, template)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from app.db import CollectionIndexes, Document

WECHAT_GRANTS = "wechat_subscribe_grants"

# _id is "<openid>:<template id>"; no further index needed.
INDEXES = [CollectionIndexes(WECHAT_GRANTS, [])]


class WechatGrantStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db

    def _c(self, name: str) -> AsyncCollection[Document]:
        return self.db[name]

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
