"""Who a campaign target matches, read from the accounts' profile fields.

The auth domain offers no audience query yet (and is not this branch's to change), so this one
module reads the `users` collection directly — read-only, only the fields a target names
(`region_code`, `tags`, `organization`, `phone`, `roles`) and `_id`. It belongs in
`auth.service` as `find_user_ids(filter, after, limit)`; moving it there changes no caller.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from notifications.models import Audience, Target

USERS = "users"

# 法人 accounts: a business identity. Until auth records the account kind, a user counts as
# 法人 when an organisation is attached or one of these tags is present.
LEGAL_PERSON_TAGS = ("法人", "企业", "个体工商户")


def user_filter(target: Target) -> dict[str, Any]:
    clauses: list[dict[str, Any]] = [{"roles": "CITIZEN"}]
    if target.region_codes:
        clauses.append({"region_code": {"$in": list(target.region_codes)}})
    if target.tags:
        clauses.append({"tags": {"$in": list(target.tags)}})
    if target.phones:
        clauses.append({"phone": {"$in": list(target.phones)}})
    legal = {"$or": [{"organization": {"$ne": None}}, {"tags": {"$in": list(LEGAL_PERSON_TAGS)}}]}
    if target.audience is Audience.LEGAL_PERSON:
        clauses.append(legal)
    elif target.audience is Audience.INDIVIDUAL:
        clauses.append({"$nor": [legal]})
    return {"$and": clauses}


class AudienceReader:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.users = db[USERS]

    async def count(self, target: Target) -> int:
        return await self.users.count_documents(user_filter(target))

    async def page(self, target: Target, after: ObjectId | None, limit: int) -> list[ObjectId]:
        """The next `limit` matching user ids in `_id` order (keyset: resumable after a crash)."""
        query = user_filter(target)
        if after is not None:
            query = {"$and": [query, {"_id": {"$gt": after}}]}
        cursor = self.users.find(query, {"_id": 1}).sort("_id", ASCENDING).limit(limit)
        return [d["_id"] async for d in cursor]
