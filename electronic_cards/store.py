"""The licence wallet's collections: `CardsStore`, the only way into them.

One mixin per concept, each declaring its collections and their indexes: licence_store.py
(licences), status_list_store.py (spec §5 lists), key_store.py (SDL signing keys), qr_store.py
(亮证 tokens: mint windows, token rows, claims), usage_store.py (用证记录 and holder events),
sharing_store.py (grants, delegations, correction tickets). `INDEXES` lists all of them for
app.db; the collection names are re-exported here for the modules that import them from here.
"""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from electronic_cards.key_store import INDEXES as KEY_INDEXES
from electronic_cards.key_store import SDL_KEYS, KeyStore
from electronic_cards.licence_store import INDEXES as LICENCE_INDEXES
from electronic_cards.licence_store import LICENCES, LicenceStore, StatusSlotTaken
from electronic_cards.qr_store import CONSUMPTIONS, MINT_WINDOWS, QR_TOKENS, QrTokenStore
from electronic_cards.qr_store import INDEXES as QR_INDEXES
from electronic_cards.sharing_store import CORRECTIONS, DELEGATIONS, GRANTS, SharingStore
from electronic_cards.sharing_store import INDEXES as SHARING_INDEXES
from electronic_cards.status_list_store import INDEXES as STATUS_LIST_INDEXES
from electronic_cards.status_list_store import (
    STATUS_LIST_FILL,
    STATUS_LIST_SIZE,
    STATUS_LISTS,
    StatusListStore,
)
from electronic_cards.usage_store import EVENTS, USAGE_RECORDS, USAGE_SORT, UsageStore
from electronic_cards.usage_store import INDEXES as USAGE_INDEXES

INDEXES = [
    *LICENCE_INDEXES,
    *QR_INDEXES,
    *USAGE_INDEXES,
    *SHARING_INDEXES,
    *KEY_INDEXES,
    *STATUS_LIST_INDEXES,
]


class CardsStore(LicenceStore, StatusListStore, KeyStore, QrTokenStore, UsageStore, SharingStore):
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db


__all__ = [
    "CONSUMPTIONS",
    "CORRECTIONS",
    "DELEGATIONS",
    "EVENTS",
    "GRANTS",
    "INDEXES",
    "LICENCES",
    "MINT_WINDOWS",
    "QR_TOKENS",
    "SDL_KEYS",
    "STATUS_LISTS",
    "STATUS_LIST_FILL",
    "STATUS_LIST_SIZE",
    "USAGE_RECORDS",
    "USAGE_SORT",
    "CardsStore",
    "StatusSlotTaken",
]
