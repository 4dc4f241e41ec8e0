"""Issuing: putting a licence into a holder's wallet, with its random status-list slot.

A mixin of `CardsService` (kept apart so each module stays one concept); it relies on the
service's store and sealing declared below.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from bson import ObjectId
from pymongo import InsertOne

from app.db import Document
from electronic_cards import registry
from electronic_cards.errors import InvalidInputError
from electronic_cards.models import Licence, LicenceStatus
from electronic_cards.store import STATUS_LIST_SIZE, CardsStore, StatusSlotTaken


@dataclass(frozen=True, slots=True)
class LicenceSpec:
    """What an issuer (or the demo) provides to put a licence into a holder's wallet."""

    type_code: str
    holder_name: str
    number: str
    issuer: str
    issuer_code: str
    valid_from: date
    valid_until: date | None
    id_number: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


class Issuing:
    store: CardsStore

    if TYPE_CHECKING:
        # Provided by CardsService (electronic_cards/service.py).
        def _encrypt(self, text: str) -> bytes: ...

    async def issue_licence(
        self, holder_id: ObjectId, spec: LicenceSpec, *, licence_id: ObjectId | None = None
    ) -> Licence:
        """Put a licence into a holder's wallet (the issuer side; demo data uses it too).

        With `licence_id` (the application it results from) issuing is idempotent: a retry after
        a failure returns the licence an earlier attempt wrote instead of issuing a second one.
        """
        _check_type(spec)
        if licence_id is not None and (earlier := await self.store.get_licence(licence_id)):
            return earlier
        now = datetime.now(UTC)
        # The list's slot is counted once this call's licence is in: a concurrent delivery of
        # the same result, which finds that licence, counts none (the count is of licences).
        list_id = await self.store.status_list_with_room(now)
        for _ in range(20):  # random index (spec §5); a collision just draws again
            licence = self._licence(holder_id, spec, licence_id or ObjectId(), list_id, now)
            try:
                await self.store.insert_licence(licence)
            except StatusSlotTaken:
                if licence_id is not None and (earlier := await self.store.get_licence(licence_id)):
                    return earlier  # a concurrent retry issued it first
                continue
            await self.store.count_status_slot(list_id)
            return licence
        raise RuntimeError("no free status-list index after 20 draws")

    async def licence_to_issue(
        self, holder_id: ObjectId, spec: LicenceSpec, licence_id: ObjectId
    ) -> tuple[Licence, InsertOne[Document]]:
        """The licence `issue_licence` would write, as a write for the caller's own
        transaction: a licence issued together with the case it results from. Its status-list
        slot is counted by `licence_issued` once that transaction committed (a refused or
        repeated request counts none). A duplicate key at the write means its random status
        index was taken meanwhile (or the licence exists): `issue_licence` then, which draws
        again."""
        _check_type(spec)
        now = datetime.now(UTC)
        list_id = await self.store.status_list_with_room(now)
        licence = self._licence(holder_id, spec, licence_id, list_id, now)
        return licence, self.store.licence_write(licence)

    async def licence_issued(self, licence: Licence) -> None:
        """Count the status-list slot of a licence `licence_to_issue` wrote (committed)."""
        await self.store.count_status_slot(licence.status_list_id)

    def _licence(
        self,
        holder_id: ObjectId,
        spec: LicenceSpec,
        licence_id: ObjectId,
        list_id: str,
        now: datetime,
    ) -> Licence:
        return Licence(
            id=licence_id,
            holder_id=holder_id,
            type_code=spec.type_code,
            holder_name=spec.holder_name,
            number_cipher=self._encrypt(spec.number),
            id_number_cipher=self._encrypt(spec.id_number) if spec.id_number else None,
            issuer=spec.issuer,
            issuer_code=spec.issuer_code,
            valid_from=spec.valid_from,
            valid_until=spec.valid_until,
            status=LicenceStatus.VALID,
            status_list_id=list_id,
            status_index=secrets.randbelow(STATUS_LIST_SIZE),
            created_at=now,
            attributes=dict(spec.attributes),
        )

    async def issue_demo_licence(self, holder_id: ObjectId, spec: LicenceSpec) -> bool:
        """Issue unless the holder already has a licence of this type (idempotent seeding)."""
        if any(lic.type_code == spec.type_code for lic in await self.store.licences_of(holder_id)):
            return False
        await self.issue_licence(holder_id, spec)
        return True


def _check_type(spec: LicenceSpec) -> None:
    if registry.licence_type(spec.type_code) is None:
        raise InvalidInputError("未知的证照类型 (unknown licence type)", field="typeCode")
