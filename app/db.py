"""The process's one MongoDB client, and the index declarations every store contributes."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pymongo
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from app.observability import PoolMetrics

log = logging.getLogger(__name__)

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class CollectionIndexes:
    collection: str
    indexes: Sequence[IndexModel]
    # Names of indexes an earlier release declared and a new version replaces: dropped by
    # `ensure_indexes` once the migrations (which may still use them) have run.
    retired: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Migration:
    """A one-time change to the documents of databases written by an earlier release (a new
    field backfilled). `run` must be idempotent: two processes starting at once both run it,
    and a crash before its marker is written runs it again. Returns how many it changed."""

    name: str
    run: Callable[[AsyncDatabase[Document]], Awaitable[int]]


MIGRATIONS = "schema_migrations"  # one marker per migration done on this database


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


def _declared_migrations() -> list[Migration]:
    from applications.flow_store import MIGRATIONS as APPLICATION_MIGRATIONS

    return [*APPLICATION_MIGRATIONS]


INDEX_NOT_FOUND = 27


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Create every declared index (idempotent: an existing identical index is left alone),
    run the migrations this database has not had yet, then drop retired indexes (after the
    migrations: a backfill may be served by the index its new version replaces)."""
    declared = _declared_indexes()
    for each in declared:
        if each.indexes:
            await db[each.collection].create_indexes(list(each.indexes))
    await run_migrations(db, _declared_migrations())
    for each in declared:
        if each.retired:
            present = set(await db[each.collection].index_information())
            for name in each.retired:
                if name in present:
                    try:
                        await db[each.collection].drop_index(name)
                    except OperationFailure as exc:
                        # Another process starting at the same time dropped it first.
                        if exc.code != INDEX_NOT_FOUND:
                            raise
                        continue
                    log.info("retired index dropped", extra={"index": name})
    log.info("indexes ensured")


async def run_migrations(db: AsyncDatabase[Document], migrations: Sequence[Migration]) -> None:
    """Each migration once per database: skipped when its marker exists, marked when done."""
    done = set(await db[MIGRATIONS].distinct("_id"))
    for migration in migrations:
        if migration.name in done:
            continue
        changed = await migration.run(db)
        # Two processes starting at once may both get here: the second upsert's duplicate key
        # means the first one marked it.
        with contextlib.suppress(DuplicateKeyError):
            await db[MIGRATIONS].update_one(
                {"_id": migration.name},
                {"$setOnInsert": {"done_at": datetime.now(UTC), "changed": changed}},
                upsert=True,
            )
        log.info("migration done", extra={"migration": migration.name, "changed": changed})


async def ping(db: AsyncDatabase[Document], within_seconds: float = 1.0) -> bool:
    try:
        # A readiness probe must answer quickly either way, not wait for server selection.
        with pymongo.timeout(within_seconds):
            await db.command("ping")
    except Exception as exc:  # any failure means "not ready"; the reason is logged, not returned
        log.warning("database ping failed", extra={"error": repr(exc)})
        return False
    return True
