"""The only module that touches auth's collections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from app.db import CollectionIndexes, Document

LOGIN_CODES = "login_codes"
LOGIN_CODE_QUOTAS = "login_code_quotas"
SESSIONS = "auth_sessions"
REFRESH_TOKENS = "refresh_tokens"
SIGNING_KEYS = "auth_signing_keys"
DEV_SMS = "dev_sms_outbox"

INDEXES = [
    # One live code per phone; the TTL index removes it after it expires.
    CollectionIndexes(
        LOGIN_CODES,
        [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0)],
    ),
    CollectionIndexes(
        LOGIN_CODE_QUOTAS,
        [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0)],
    ),
    CollectionIndexes(
        SESSIONS,
        [
            IndexModel([("user_id", ASCENDING)]),
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
        ],
    ),
    CollectionIndexes(
        REFRESH_TOKENS,
        [
            IndexModel([("family_id", ASCENDING)]),
            IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0),
        ],
    ),
    CollectionIndexes(SIGNING_KEYS, [IndexModel([("created_at", DESCENDING)])]),
    CollectionIndexes(
        DEV_SMS,
        [
            IndexModel([("phone", ASCENDING), ("sent_at", DESCENDING)]),
            IndexModel([("sent_at", ASCENDING)], expireAfterSeconds=24 * 3600),
        ],
    ),
]


@dataclass(frozen=True, slots=True)
class LoginCode:
    phone_key: str  # the phone's blind index: codes and quotas never store the phone itself
    code_hash: str
    expires_at: datetime
    attempts: int


def _refresh_token_document(
    token_hash: str, family_id: str, user_id: ObjectId, now: datetime, expires_at: datetime
) -> dict[str, Any]:
    return {
        "_id": token_hash,
        "family_id": family_id,
        "user_id": user_id,
        "created_at": now,
        "used_at": None,
        "expires_at": expires_at,
    }


class AuthStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db

    # -- login codes ---------------------------------------------------------------------

    async def take_login_code_quota(
        self, phone_key: str, day: str, now: datetime, *, per_day: int, interval: timedelta
    ) -> bool:
        """Count one code request; False when the phone is over its daily or 60-second limit.

        The guard sits in the filter, so two concurrent requests cannot both pass: the loser
        either matches nothing or collides on the upsert's `_id`.
        """
        try:
            doc = await self.db[LOGIN_CODE_QUOTAS].find_one_and_update(
                {
                    "_id": f"{phone_key}:{day}",
                    "count": {"$lt": per_day},
                    "last_at": {"$lte": now - interval},
                },
                {
                    "$inc": {"count": 1},
                    "$set": {"last_at": now},
                    "$setOnInsert": {"expires_at": now + timedelta(days=2)},
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False
        return doc is not None

    async def replace_login_code(self, code: LoginCode) -> None:
        await self.db[LOGIN_CODES].replace_one(
            {"_id": code.phone_key},
            {
                "_id": code.phone_key,
                "code_hash": code.code_hash,
                "expires_at": code.expires_at,
                "attempts": code.attempts,
            },
            upsert=True,
        )

    async def get_login_code(self, phone_key: str) -> LoginCode | None:
        doc = await self.db[LOGIN_CODES].find_one({"_id": phone_key})
        if not doc:
            return None
        return LoginCode(doc["_id"], doc["code_hash"], doc["expires_at"], doc["attempts"])

    async def count_failed_attempt(self, phone_key: str, code_hash: str) -> int | None:
        """Add one failed try to the live code; the new count, or None if the code is gone."""
        doc = await self.db[LOGIN_CODES].find_one_and_update(
            {"_id": phone_key, "code_hash": code_hash},
            {"$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["attempts"]) if doc else None

    async def consume_login_code(self, phone_key: str, code_hash: str, max_attempts: int) -> bool:
        """Delete the code if it matches and is not locked: a code signs in exactly once."""
        result = await self.db[LOGIN_CODES].delete_one(
            {"_id": phone_key, "code_hash": code_hash, "attempts": {"$lt": max_attempts}}
        )
        return result.deleted_count == 1

    # -- sessions and refresh tokens -----------------------------------------------------

    async def create_session(
        self,
        family_id: str,
        user_id: ObjectId,
        token_hash: str,
        now: datetime,
        expires_at: datetime,
        method: str,
    ) -> None:
        async with self.db.client.start_session() as s:
            await s.with_transaction(
                lambda s: self._create_session(
                    s, family_id, user_id, token_hash, now, expires_at, method
                )
            )

    async def _create_session(
        self,
        s: AsyncClientSession,
        family_id: str,
        user_id: ObjectId,
        token_hash: str,
        now: datetime,
        expires_at: datetime,
        method: str,
    ) -> None:
        await self.db[SESSIONS].insert_one(
            {
                "_id": family_id,
                "user_id": user_id,
                "created_at": now,
                "method": method,
                "revoked_at": None,
                "expires_at": expires_at,
            },
            session=s,
        )
        await self.db[REFRESH_TOKENS].insert_one(
            _refresh_token_document(token_hash, family_id, user_id, now, expires_at), session=s
        )

    async def get_session(self, family_id: str) -> dict[str, Any] | None:
        return await self.db[SESSIONS].find_one({"_id": family_id})

    async def get_refresh_token(self, token_hash: str) -> dict[str, Any] | None:
        return await self.db[REFRESH_TOKENS].find_one({"_id": token_hash})

    async def rotate_refresh_token(
        self,
        old_hash: str,
        new_hash: str,
        family_id: str,
        user_id: ObjectId,
        now: datetime,
        expires_at: datetime,
    ) -> bool:
        """Mark the old token used and store its successor, atomically; False if already used."""

        async def rotate(s: AsyncClientSession) -> bool:
            marked = await self.db[REFRESH_TOKENS].find_one_and_update(
                {"_id": old_hash, "used_at": None}, {"$set": {"used_at": now}}, session=s
            )
            if marked is None:
                return False
            await self.db[REFRESH_TOKENS].insert_one(
                _refresh_token_document(new_hash, family_id, user_id, now, expires_at), session=s
            )
            await self.db[SESSIONS].update_one(
                {"_id": family_id}, {"$set": {"expires_at": expires_at}}, session=s
            )
            return True

        async with self.db.client.start_session() as s:
            return bool(await s.with_transaction(rotate))

    async def revoke_session(self, family_id: str, now: datetime, reason: str) -> None:
        await self.db[SESSIONS].update_one(
            {"_id": family_id, "revoked_at": None},
            {"$set": {"revoked_at": now, "revoked_reason": reason}},
        )

    async def revoke_user_sessions(self, user_id: ObjectId, now: datetime, reason: str) -> int:
        result = await self.db[SESSIONS].update_many(
            {"user_id": user_id, "revoked_at": None},
            {"$set": {"revoked_at": now, "revoked_reason": reason}},
        )
        return result.modified_count

    # -- signing keys --------------------------------------------------------------------

    async def signing_keys(self) -> list[dict[str, Any]]:
        return await self.db[SIGNING_KEYS].find().sort("created_at", DESCENDING).to_list(50)

    async def insert_signing_key(self, doc: dict[str, Any]) -> None:
        await self.db[SIGNING_KEYS].insert_one(doc)

    async def retire_signing_keys_before(self, created_at: datetime, now: datetime) -> None:
        await self.db[SIGNING_KEYS].update_many(
            {"created_at": {"$lt": created_at}, "retired_at": None},
            {"$set": {"retired_at": now}},
        )

    # -- dev SMS outbox ------------------------------------------------------------------

    async def record_dev_sms(self, phone: str, text: str, now: datetime) -> None:
        await self.db[DEV_SMS].insert_one({"phone": phone, "text": text, "sent_at": now})

    async def latest_dev_sms(self, phone: str) -> dict[str, Any] | None:
        return await self.db[DEV_SMS].find_one({"phone": phone}, sort=[("sent_at", DESCENDING)])
