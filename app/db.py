"""The process's one MongoDB client, and the index declarations every store contributes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pymongo
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
        # Polling, not the streaming protocol: after a state-change error (ShutdownInProgress,
        # NotPrimary) the driver marks the server Unknown and asks its monitor for a check, but a
        # streaming monitor is blocked in an awaitable hello the server answers only on a
        # topology change or after heartbeatFrequencyMS (10 s), so every operation waited out
        # server selection (5 s) and failed. A polling monitor is asleep and re-checks within
        # minHeartbeatFrequencyMS (0.5 s). docs/operations.md, "ShutdownInProgress".
        serverMonitoringMode="poll",
    )


def _declared_indexes() -> list[CollectionIndexes]:
    # Each domain's store declares its indexes; importing here keeps app/ the only assembler.
    from app.audit import INDEXES as AUDIT_INDEXES
    from app.erasures import INDEXES as ERASURE_INDEXES
    from applications.flow_store import INDEXES as APPLICATION_FLOW_INDEXES
    from applications.store import INDEXES as APPLICATIONS_INDEXES
    from applications.uploads.store import INDEXES as UPLOAD_INDEXES
    from auth.store import INDEXES as AUTH_INDEXES
    from auth.user_store import INDEXES as USER_INDEXES
    from electronic_cards.store import INDEXES as CARDS_INDEXES
    from matters.store import INDEXES as MATTERS_INDEXES
    from notifications.store import INDEXES as NOTIFICATION_INDEXES

    return [
        *AUDIT_INDEXES,
        *AUTH_INDEXES,
        *USER_INDEXES,
        *MATTERS_INDEXES,
        *CARDS_INDEXES,
        *NOTIFICATION_INDEXES,
        *APPLICATIONS_INDEXES,
        *UPLOAD_INDEXES,
        *APPLICATION_FLOW_INDEXES,
        *ERASURE_INDEXES,
    ]


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Create every declared index (idempotent: an existing identical index is left alone)."""
    for declared in _declared_indexes():
        if declared.indexes:
            await db[declared.collection].create_indexes(list(declared.indexes))
    log.info("indexes ensured")


async def ping(db: AsyncDatabase[Document], within_seconds: float = 1.0) -> bool:
    try:
        # A readiness probe must answer quickly either way, not wait for server selection.
        with pymongo.timeout(within_seconds):
            await db.command("ping")
    except Exception as exc:  # any failure means "not ready"; the reason is logged, not returned
        log.warning("database ping failed", extra={"error": repr(exc)})
        return False
    return True
