"""The only module that touches `users`. Phones and identity numbers are sealed at this boundary.

A user document holds `phone_cipher` (AES-GCM) and `phone_index` (HMAC, unique) instead of the
phone, and `id_number_cipher` / `id_number_index` for the identity number; `User` objects carry the
plain phone in memory only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from app import sealing
from app.db import CollectionIndexes, Document
from app.errors import AlreadyExistsError
from app.keyring import Keyring
from auth.models import CitizenFilter, User

USERS = "users"
# An account that may still be written to: it exists and is not being erased (PIPL erasure marks
# `erasing_at` first). Every "is this person still here" check filters on this.
ACTIVE: dict[str, Any] = {"erasing_at": None}
PHONE_PURPOSE = "phone"

INDEXES = [
    CollectionIndexes(
        USERS,
        [
            IndexModel([("phone_index", ASCENDING)], unique=True),
            IndexModel(
                [("id_number_index", ASCENDING)],
                unique=True,
                partialFilterExpression={"id_number_index": {"$type": "string"}},
            ),
            IndexModel([("roles", ASCENDING)]),
            IndexModel([("region_code", ASCENDING)]),
            IndexModel([("tags", ASCENDING)]),
        ],
    ),
]


# 法人 accounts: a business identity. Until accounts record their kind, a user counts as 法人
# when an organisation is attached or one of these tags is present.
LEGAL_PERSON_TAGS = ("法人", "企业", "个体工商户")


def _citizen_query(where: CitizenFilter) -> dict[str, Any]:
    # An account being erased (`erasing_at`) is nobody's audience any more.
    clauses: list[dict[str, Any]] = [{"roles": "CITIZEN"}, ACTIVE]
    if where.region_codes:
        clauses.append({"region_code": {"$in": list(where.region_codes)}})
    if where.tags:
        clauses.append({"tags": {"$in": list(where.tags)}})
    if where.phone_keys:
        clauses.append({"phone_index": {"$in": list(where.phone_keys)}})
    if where.among:
        clauses.append({"_id": {"$in": list(where.among)}})
    legal = {"$or": [{"organization": {"$ne": None}}, {"tags": {"$in": list(LEGAL_PERSON_TAGS)}}]}
    if where.legal_person is True:
        clauses.append(legal)
    elif where.legal_person is False:
        clauses.append({"$nor": [legal]})
    return {"$and": clauses}


class UserQuery:
    """Counting and listing users by profile fields; reads ids only, never personal data."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.users = db[USERS]

    async def count(self, where: CitizenFilter) -> int:
        return await self.users.count_documents(_citizen_query(where))

    async def ids(self, where: CitizenFilter, after: ObjectId | None, limit: int) -> list[ObjectId]:
        query = _citizen_query(where)
        if after is not None:
            query = {"$and": [query, {"_id": {"$gt": after}}]}
        cursor = self.users.find(query, {"_id": 1}).sort("_id", ASCENDING).limit(limit)
        return [d["_id"] async for d in cursor]

    async def active(self, user_ids: Sequence[ObjectId]) -> set[ObjectId]:
        """Which of these accounts exist and are not being erased (one `_id` lookup)."""
        query = {"_id": {"$in": list(user_ids)}, **ACTIVE}
        return {d["_id"] async for d in self.users.find(query, {"_id": 1})}

    async def active_holder(self, phone_keys: Sequence[str]) -> ObjectId | None:
        """The active account whose phone has one of these blind indexes, if any."""
        query = {"phone_index": {"$in": list(phone_keys)}, **ACTIVE}
        found = await self.users.find_one(query, {"_id": 1})
        return found["_id"] if found else None

    async def active_joined(
        self, user_ids: Sequence[ObjectId], joined: str
    ) -> dict[ObjectId, list[Document]]:
        """The active accounts among these, each with the documents of another domain's
        collection `joined` whose `_id` is the user's: one command for both reads."""
        pipeline: list[Document] = [
            {"$match": {"_id": {"$in": list(user_ids)}, **ACTIVE}},
            {"$project": {"_id": 1}},
            {"$lookup": {"from": joined, "localField": "_id", "foreignField": "_id", "as": "j"}},
        ]
        return {d["_id"]: d["j"] async for d in await self.users.aggregate(pipeline)}


def phone_key(keyring: Keyring, phone: str) -> str:
    """The blind index of a normalised phone: how anything keyed by phone is looked up."""
    return sealing.blind_index(keyring.phone_index, phone)


class UserStore:
    def __init__(self, db: AsyncDatabase[Document], keyring: Keyring) -> None:
        self.db = db
        self.keyring = keyring

    def _encode(self, user: User) -> dict[str, Any]:
        doc = user.to_document()
        phone = doc.pop("phone")
        doc["phone_cipher"] = sealing.encrypt(self.keyring.phone_encryption, phone, PHONE_PURPOSE)
        doc["phone_index"] = phone_key(self.keyring, phone)
        return doc

    def _decode(self, doc: dict[str, Any]) -> User:
        keys = self.keyring.all("phone_encryption")  # during a rotation: either generation
        phone = sealing.decrypt_any(keys, doc["phone_cipher"], PHONE_PURPOSE)
        return User.from_document({**doc, "phone": phone})

    async def get_user(self, user_id: ObjectId) -> User | None:
        doc = await self.db[USERS].find_one({"_id": user_id})
        return self._decode(doc) if doc else None

    async def get_users(self, user_ids: list[ObjectId]) -> dict[ObjectId, User]:
        cursor = self.db[USERS].find({"_id": {"$in": user_ids}})
        return {doc["_id"]: self._decode(doc) async for doc in cursor}

    async def find_by_phone(self, phone: str) -> User | None:
        keys = sealing.blind_indexes(self.keyring.all("phone_index"), phone)
        doc = await self.db[USERS].find_one({"phone_index": {"$in": keys}})
        return self._decode(doc) if doc else None

    async def find_by_id_number_index(self, indexes: list[str]) -> User | None:
        """By the identity number's blind index (one per key generation during a rotation)."""
        doc = await self.db[USERS].find_one({"id_number_index": {"$in": indexes}})
        return self._decode(doc) if doc else None

    async def insert_user(self, user: User) -> None:
        try:
            await self.db[USERS].insert_one(self._encode(user))
        except DuplicateKeyError as exc:
            raise AlreadyExistsError("该手机号或身份证号已注册 (already registered)") from exc

    async def insert_users(self, users: list[User]) -> None:
        """Bulk registration (imports, load tests): one round trip per call."""
        if users:
            await self.db[USERS].insert_many([self._encode(u) for u in users], ordered=False)

    async def upsert_user_by_phone(self, user: User) -> User:
        """Insert, or replace everything but `_id` and `created_at` (idempotent demo seeding)."""
        doc = self._encode(user)
        doc.pop("_id")
        created_at = doc.pop("created_at")
        # The cipher is randomised: keep the stored one so a re-seed does not rewrite it.
        cipher = doc.pop("phone_cipher")
        saved = await self.db[USERS].find_one_and_update(
            {"phone_index": doc["phone_index"]},
            {
                "$set": doc,
                "$setOnInsert": {"_id": user.id, "created_at": created_at, "phone_cipher": cipher},
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if saved is None:  # cannot happen with upsert=True and AFTER; keeps the type honest
            raise RuntimeError("upsert returned no document")
        return self._decode(saved)

    # -- erasure (PIPL art. 47, app/personal_data.py) ---------------------------------------

    async def begin_erasure(self, user_id: ObjectId, now: datetime) -> datetime | None:
        """Mark the account as being erased; returns when its erasure started (an earlier
        start if one is under way: the caller resumes it), None if the account is gone.

        Guarded in the filter, so two concurrent requests agree on one start."""
        doc = await self.db[USERS].find_one_and_update(
            {"_id": user_id, "erasing_at": None},
            {"$set": {"erasing_at": now}},
            projection={"erasing_at": 1},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            doc = await self.db[USERS].find_one({"_id": user_id}, {"erasing_at": 1})
        return doc.get("erasing_at") if doc else None

    async def cancel_erasure(self, user_id: ObjectId, started: datetime) -> None:
        """An erasure refused after it was marked (an open case): the account works again."""
        await self.db[USERS].update_one(
            {"_id": user_id, "erasing_at": started}, {"$unset": {"erasing_at": ""}}
        )

    async def is_active(self, user_id: ObjectId) -> bool:
        """The account exists and is not being erased (read from the database, never cached:
        this is the guard every write for the person passes)."""
        found = await self.db[USERS].find_one({"_id": user_id, **ACTIVE}, {"_id": 1})
        return found is not None

    async def update_identity(self, user_id: ObjectId, fields: dict[str, Any]) -> User | None:
        try:
            doc = await self.db[USERS].find_one_and_update(
                {"_id": user_id}, {"$set": fields}, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError as exc:
            raise AlreadyExistsError("该身份证号已绑定其他账号 (identity bound elsewhere)") from exc
        return self._decode(doc) if doc else None
