"""亮证 tokens: the per-licence mint window, the token → licence rows, and each token's claim."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from pymongo.results import ClientBulkWriteResult

from app.db import CollectionIndexes, Document
from app.txn import DuplicateKeyAt, commit_together
from electronic_cards.licence_store import LICENCES
from electronic_cards.models import Licence

QR_TOKENS = "licence_qr_tokens"
MINT_WINDOWS = "licence_qr_mint_windows"
CONSUMPTIONS = "licence_qr_consumptions"

INDEXES = [
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
]


class QrTokenStore:
    """A mixin of `CardsStore` (electronic_cards/store.py)."""

    db: AsyncDatabase[Document]

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
