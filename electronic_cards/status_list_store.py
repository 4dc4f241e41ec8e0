"""The status lists (spec §5): allocating a licence's slot, and the entries a list publishes."""

from __future__ import annotations

import contextlib
from datetime import datetime

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from app.db import CollectionIndexes, Document
from electronic_cards.licence_store import LICENCES
from electronic_cards.models import LicenceStatus

STATUS_LISTS = "sdl_status_lists"

STATUS_LIST_SIZE = 131_072  # spec §5: at least this many entries per list
STATUS_LIST_FILL = STATUS_LIST_SIZE // 2  # open a new list at half: random picks stay cheap

INDEXES = [CollectionIndexes(STATUS_LISTS, [IndexModel([("allocated", ASCENDING)])])]


class StatusListStore:
    """A mixin of `CardsStore` (electronic_cards/store.py)."""

    db: AsyncDatabase[Document]

    async def status_list_with_room(self, now: datetime) -> str:
        """The id of a list with room, not counting anything yet: the licence's slot is counted
        (`count_status_slot`) once it is written, so that refused, repeated or racing requests
        count nothing. Requests in flight together may all pick the same list and take it past
        STATUS_LIST_FILL by as many: harmless, a list holds twice the fill."""
        for _ in range(5):
            doc = await self.db[STATUS_LISTS].find_one(
                {"allocated": {"$lt": STATUS_LIST_FILL}}, sort=[("allocated", ASCENDING)]
            )
            if doc is not None:
                return str(doc["_id"])
            await self._open_another(now)
        raise RuntimeError("could not open a status list")

    async def count_status_slot(self, list_id: str) -> None:
        await self.db[STATUS_LISTS].update_one({"_id": list_id}, {"$inc": {"allocated": 1}})

    async def _open_another(self, now: datetime) -> None:
        count = await self.db[STATUS_LISTS].count_documents({})
        # another process may open it first: then take a slot in that one
        with contextlib.suppress(DuplicateKeyError):
            await self.db[STATUS_LISTS].insert_one(
                {"_id": str(count + 1), "allocated": 0, "created_at": now}
            )

    async def status_list_ids(self) -> list[str]:
        """Every list's id (a handful: a list holds 131,072 entries), oldest first."""
        cursor = self.db[STATUS_LISTS].find({}, {"_id": 1}).sort("created_at", ASCENDING)
        return [str(d["_id"]) async for d in cursor.limit(1000)]

    async def status_list_exists(self, list_id: str) -> bool:
        return await self.db[STATUS_LISTS].count_documents({"_id": list_id}, limit=1) > 0

    async def non_valid_entries(self, list_id: str) -> list[tuple[int, LicenceStatus]]:
        cursor = self.db[LICENCES].find(
            {
                "status_list_id": list_id,
                "status": {"$in": [LicenceStatus.REVOKED.value, LicenceStatus.SUSPENDED.value]},
            },
            {"status_index": 1, "status": 1},
        )
        return [(d["status_index"], LicenceStatus(d["status"])) async for d in cursor]
