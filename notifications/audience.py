"""Who a campaign target matches: translated into auth's user directory.

Phones in a target are kept as their blind indexes (`auth.directory.phone_keys`) from the moment
the operator submits them, so campaigns never store phone numbers.
"""

from __future__ import annotations

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from auth.directory import CitizenFilter, UserDirectory
from notifications.models import Audience, Target


def citizen_filter(target: Target) -> CitizenFilter:
    legal = None if target.audience is None else target.audience is Audience.ORGANIZATION
    return CitizenFilter(
        region_codes=target.region_codes,
        tags=target.tags,
        phone_keys=target.phones,
        legal_person=legal,
    )


class AudienceReader:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.directory = UserDirectory(db)

    async def count(self, target: Target) -> int:
        return await self.directory.count_citizens(citizen_filter(target))

    async def page(self, target: Target, after: ObjectId | None, limit: int) -> list[ObjectId]:
        """The next `limit` matching user ids in `_id` order (keyset: resumable after a crash)."""
        return await self.directory.citizen_ids(citizen_filter(target), after, limit)
