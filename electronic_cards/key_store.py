"""The SDL signing keys' collection (`keys.KeyStoreProtocol`: the key ring loads and adds keys)."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from app.db import CollectionIndexes, Document

SDL_KEYS = "sdl_signing_keys"

INDEXES = [CollectionIndexes(SDL_KEYS, [IndexModel([("activates_at", DESCENDING)])])]


class KeyStore:
    """A mixin of `CardsStore` (electronic_cards/store.py)."""

    db: AsyncDatabase[Document]

    async def sdl_keys(self) -> list[dict[str, Any]]:
        return await self.db[SDL_KEYS].find({}).to_list(None)

    async def insert_sdl_key(self, doc: dict[str, Any]) -> None:
        await self.db[SDL_KEYS].insert_one(doc)
