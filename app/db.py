"""The process's one MongoDB client, and the index declarations every store contributes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from app.observability import PoolMetrics

log = logging.getLogger(__name__)

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class CollectionIndexes:
    collection: str
    indexes: Sequence[IndexModel]


def connect(uri: str, *, app_name: str = "zsb") -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        uri,
        appname=app_name,
        tz_aware=True,  # every datetime we read back is UTC-aware, like the ones we write
        event_listeners=[PoolMetrics()],
        serverSelectionTimeoutMS=5_000,
        connectTimeoutMS=5_000,
        retryWrites=True,
    )


def _declared_indexes() -> list[CollectionIndexes]:
    # Each domain's store declares its indexes; importing here keeps app/ the only assembler.
    from applications.store import INDEXES as APPLICATIONS_INDEXES
    from auth.store import INDEXES as AUTH_INDEXES
    from matters.store import INDEXES as MATTERS_INDEXES

    return [*AUTH_INDEXES, *MATTERS_INDEXES, *APPLICATIONS_INDEXES]


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Create every declared index (idempotent: an existing identical index is left alone)."""
    for declared in _declared_indexes():
        if declared.indexes:
            await db[declared.collection].create_indexes(list(declared.indexes))
    log.info("indexes ensured")


async def ping(db: AsyncDatabase[Document]) -> bool:
    try:
        await db.command("ping")
    except Exception:  # any failure means "not ready"; the reason is logged, not returned
        log.warning("database ping failed", exc_info=True)
        return False
    return True
