"""Who a campaign target matches: translated into auth's user directory and, for a licence
type, electronic_cards' holder query. Neither domain's collections are read here.

Phones in a target are kept as their blind indexes (`auth.directory.phone_keys`) from the moment
the operator submits them, so campaigns never store phone numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from auth.directory import CitizenFilter, UserDirectory
from electronic_cards.holders import LicenceHolders
from notifications.models import Audience, Target
from notifications.policy import Clock, SystemClock

# Holders are intersected with the directory this many at a time (an `_id $in` of this size).
HOLDER_PAGE = 500


def citizen_filter(target: Target) -> CitizenFilter:
    legal = None if target.audience is None else target.audience is Audience.ORGANIZATION
    return CitizenFilter(
        region_codes=target.region_codes,
        tags=target.tags,
        phone_keys=target.phones,
        legal_person=legal,
    )


@dataclass(frozen=True, slots=True)
class AudiencePage:
    user_ids: list[ObjectId]  # ascending
    next_after: ObjectId | None  # where the next page starts; None: the audience is exhausted


class AudienceReader:
    def __init__(self, db: AsyncDatabase[Document], clock: Clock | None = None) -> None:
        self.directory = UserDirectory(db)
        self.holders = LicenceHolders(db)
        self.clock = clock or SystemClock()

    async def _listed(self, target: Target) -> list[ObjectId]:
        """The citizens a phone list names (with the target's other parts), sorted.

        Resolved a slice of keys at a time: one `$in` of 10,000 keys is what MongoDB takes in
        its stride but SecantusDB matches key by key for every candidate.
        """
        where = citizen_filter(target)
        ids: list[ObjectId] = []
        for start in range(0, len(target.phones), HOLDER_PAGE):
            keys = target.phones[start : start + HOLDER_PAGE]
            ids += await self.directory.citizen_ids(
                replace(where, phone_keys=keys), None, len(keys)
            )
        return sorted(ids)

    async def count(self, target: Target) -> int:
        where = citizen_filter(target)
        if target.phones and target.licence_type_code is None:
            return len(await self._listed(target))
        if target.licence_type_code is None:
            return await self.directory.count_citizens(where)
        total, after = 0, None
        while True:  # one pass over the type's holders, a page at a time
            page = await self.holders.page(
                target.licence_type_code, after, HOLDER_PAGE, self.clock.now()
            )
            if page.holder_ids:
                among = replace(where, among=tuple(page.holder_ids))
                total += await self.directory.count_citizens(among)
            if page.next_after is None:
                return total
            after = page.next_after

    async def page(self, target: Target, after: ObjectId | None, limit: int) -> AudiencePage:
        """The next matching user ids in `_id` order (keyset: resumable after a crash).

        Without a licence type this is `limit` citizens; with one, the citizens among the next
        page of holders (possibly none, with more to come).
        """
        where = citizen_filter(target)
        if target.phones and target.licence_type_code is None:
            listed = [u for u in await self._listed(target) if after is None or u > after]
            ids = listed[:limit]
            return AudiencePage(ids, ids[-1] if len(listed) > limit else None)
        if target.licence_type_code is None:
            ids = await self.directory.citizen_ids(where, after, limit)
            return AudiencePage(ids, ids[-1] if len(ids) == limit else None)
        page = await self.holders.page(
            target.licence_type_code, after, min(limit, HOLDER_PAGE), self.clock.now()
        )
        if not page.holder_ids:
            return AudiencePage([], page.next_after)
        among = replace(where, among=tuple(page.holder_ids))
        ids = await self.directory.citizen_ids(among, None, len(page.holder_ids))
        return AudiencePage(ids, page.next_after)
