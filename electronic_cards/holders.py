"""Who holds a licence type: the holder query other domains may use.

Campaign targeting (notifications) asks here instead of reading `licences`, as it asks
`auth.directory` instead of reading `users`: which licences count (valid, not expired) and how
they are stored stay electronic_cards' business. Only user ids leave this module. The query
walks the (type_code, status, holder_id) index declared in `electronic_cards.store`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from electronic_cards import registry
from electronic_cards.models import today_in_china
from electronic_cards.store import CardsStore

__all__ = ["HolderPage", "LicenceHolders", "is_known_type"]


def is_known_type(type_code: str) -> bool:
    return registry.licence_type(type_code) is not None


@dataclass(frozen=True, slots=True)
class HolderPage:
    holder_ids: list[ObjectId]  # ascending, distinct
    next_after: ObjectId | None  # where the next page starts; None: there is no more


class LicenceHolders:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._store = CardsStore(db)

    async def page(
        self, type_code: str, after: ObjectId | None, limit: int, now: datetime
    ) -> HolderPage:
        """Holders of valid, unexpired licences of the type after `after`, in holder order.

        A holder with two licences of the type appears once, so a page may hold fewer than
        `limit` ids and still not be the last: `next_after` says whether there is more.
        """
        rows = await self._store.holder_ids_of_type(type_code, after, limit, today_in_china(now))
        ids = sorted(set(rows))
        return HolderPage(ids, ids[-1] if len(rows) == limit else None)
