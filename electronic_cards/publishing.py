"""Published material: the SDL verifying keys and the signed status lists (spec §4, §5) that
offline verifiers fetch from /.well-known/ (http.py).

A mixin of `CardsService` (kept apart so each module stays one concept).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from electronic_cards import sdl1, status_list
from electronic_cards.keys import STATUS_LIST_LIFETIME, SdlKeys
from electronic_cards.minting import ISSUING_PLATFORM
from electronic_cards.store import STATUS_LIST_SIZE, CardsStore


class Publishing:
    store: CardsStore
    keys: SdlKeys

    async def published_keys(self) -> dict[str, Any]:
        await self.keys.refresh_if_stale(self.store)
        return self.keys.jwks(datetime.now(UTC))

    async def status_list_ids(self) -> list[str]:
        return await self.store.status_list_ids()

    async def status_list_text(self, list_id: str) -> str | None:
        if len(list_id) > 32 or not await self.store.status_list_exists(list_id):
            return None
        entries = await self.store.non_valid_entries(list_id)
        array = status_list.build(entries, STATUS_LIST_SIZE)
        now = datetime.now(UTC)
        await self.keys.refresh_if_stale(self.store)
        iat = int(now.timestamp())
        payload = sdl1.StatusListPayload(
            ISSUING_PLATFORM,
            iat,
            iat + int(STATUS_LIST_LIFETIME.total_seconds()),
            status_list.BITS,
            status_list.compress(array),
        )
        return sdl1.encode_status_list(payload, self.keys.signing_key(now))
