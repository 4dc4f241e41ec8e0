"""The only module that touches the catalogue's collections.

`matters` holds one document per (code, version). At most one version of a code is PUBLISHED and
at most one is a DRAFT (partial unique indexes enforce it); older published versions become
SUPERSEDED and stay readable. `catalogue_state` carries the catalogue version every process
watches: it changes with each publish or withdrawal, and caches and search indexes follow it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, GEOSPHERE, IndexModel, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from app.db import CollectionIndexes, Document
from app.errors import AlreadyExistsError
from app.pagination import Connection, SortKey, paginate
from matters.models import (
    SUMMARY_FIELDS,
    Bundle,
    Department,
    Matter,
    MatterRecord,
    MatterStatus,
    ServicePoint,
)

MATTERS = "matters"
DEPARTMENTS = "matter_departments"
BUNDLES = "matter_bundles"
SERVICE_POINTS = "service_points"
STATE = "catalogue_state"

_PUBLISHED = MatterStatus.PUBLISHED.value
_DRAFT = MatterStatus.DRAFT.value

INDEXES = [
    CollectionIndexes(
        MATTERS,
        [
            IndexModel([("code", ASCENDING), ("version", ASCENDING)], unique=True),
            IndexModel(
                [("code", ASCENDING)],
                name="one_published_per_code",
                unique=True,
                partialFilterExpression={"status": _PUBLISHED},
            ),
            IndexModel(
                [("code", ASCENDING)],
                name="one_draft_per_code",
                unique=True,
                partialFilterExpression={"status": _DRAFT},
            ),
            IndexModel([("status", ASCENDING), ("code", ASCENDING)]),
            IndexModel([("status", ASCENDING), ("department_code", ASCENDING), ("code", 1)]),
            IndexModel([("status", ASCENDING), ("region_code", ASCENDING), ("code", 1)]),
            IndexModel([("status", ASCENDING), ("popularity", DESCENDING), ("code", 1)]),
            IndexModel([("seq", ASCENDING)]),
        ],
    ),
    CollectionIndexes(DEPARTMENTS, [IndexModel([("region_code", ASCENDING)])]),
    CollectionIndexes(BUNDLES, [IndexModel([("life_event", ASCENDING)])]),
    # The version is spelled out because the server records it: without it the second start's
    # create_indexes would see a "different" index of the same name and fail.
    CollectionIndexes(
        SERVICE_POINTS,
        [IndexModel([("location", GEOSPHERE)], **{"2dsphereIndexVersion": 3})],
    ),
]

# Fields copied out of the content so filters and sorts use indexes.
_FILTER_FIELDS = (
    "name",
    "department_code",
    "region_code",
    "audiences",
    "service_modes",
    "life_events",
    "popularity",
)
LIST_SORT = SortKey((("code", ASCENDING), ("_id", ASCENDING)))
# What the search index needs: small enough to load 10,000 matters in about a second.
SEARCH_PROJECTION = dict.fromkeys(
    (*SUMMARY_FIELDS, "content.aliases", "content.keywords", "content.situations.name"), 1
)


def version_document(
    matter: Matter,
    version: int,
    status: MatterStatus,
    now: datetime,
    published_at: datetime | None = None,
) -> Document:
    content = matter.to_content()
    doc: Document = {
        "_id": f"{matter.code}:{version}",
        "code": matter.code,
        "version": version,
        "status": status.value,
        "updated_at": now,
        "published_at": published_at,
        "content": content,
    }
    doc.update({k: content[k] for k in _FILTER_FIELDS})
    return doc


class MatterStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.matters = db[MATTERS]

    # -- reads -----------------------------------------------------------------------------

    async def published(self, code: str) -> MatterRecord | None:
        doc = await self.matters.find_one({"code": code, "status": _PUBLISHED})
        return MatterRecord.from_document(doc) if doc else None

    async def version(self, code: str, version: int) -> MatterRecord | None:
        doc = await self.matters.find_one({"_id": f"{code}:{version}"})
        return MatterRecord.from_document(doc) if doc else None

    async def draft(self, code: str) -> MatterRecord | None:
        doc = await self.matters.find_one({"code": code, "status": _DRAFT})
        return MatterRecord.from_document(doc) if doc else None

    async def published_many(self, codes: Sequence[str]) -> dict[str, MatterRecord]:
        docs = self.matters.find({"code": {"$in": list(codes)}, "status": _PUBLISHED})
        return {d["code"]: MatterRecord.from_document(d) async for d in docs}

    async def all_versions(self, code: str) -> list[MatterRecord]:
        cursor = self.matters.find({"code": code}).sort("version", ASCENDING)
        return [MatterRecord.from_document(d) async for d in cursor]

    async def versions_by_id(self, ids: Sequence[str]) -> dict[str, MatterRecord]:
        """Stored versions by `code:version` id (one query for a page of search results)."""
        cursor = self.matters.find({"_id": {"$in": list(ids)}})
        return {d["_id"]: MatterRecord.from_document(d) async for d in cursor}

    async def latest_version(self, code: str) -> int:
        doc = await self.matters.find_one({"code": code}, sort=[("version", DESCENDING)])
        return int(doc.get("version", 0)) if doc else 0

    async def list_published(
        self, query: dict[str, Any], first: int | None, after: str | None
    ) -> Connection[MatterRecord]:
        return await paginate(
            self.matters,
            {"status": _PUBLISHED, **query},
            LIST_SORT,
            first,
            after,
            MatterRecord.from_document,
        )

    async def hot(self, limit: int) -> list[MatterRecord]:
        cursor = self.matters.find({"status": _PUBLISHED}).sort(
            [("popularity", DESCENDING), ("code", ASCENDING)]
        )
        return [MatterRecord.from_document(d) async for d in cursor.limit(limit)]

    async def search_rows(self) -> list[Document]:
        cursor = self.matters.find({"status": _PUBLISHED}, SEARCH_PROJECTION)
        return await cursor.to_list(None)

    async def stats_rows(self) -> list[Document]:
        projection = {
            "content.online_depth": 1,
            "content.service_modes": 1,
            "content.tongban_scope": 1,
            "content.visits": 1,
            "content.channels": 1,
        }
        return await self.matters.find({"status": _PUBLISHED}, projection).to_list(None)

    # -- writes ----------------------------------------------------------------------------

    async def insert_draft(self, matter: Matter, version: int, now: datetime) -> MatterRecord:
        doc = version_document(matter, version, MatterStatus.DRAFT, now)
        try:
            await self.matters.insert_one(doc)
        except DuplicateKeyError as exc:
            raise AlreadyExistsError(
                f"事项 {matter.code} 已有草稿或该版本 (draft exists)", field="code"
            ) from exc
        return MatterRecord.from_document(doc)

    async def replace_draft(
        self, matter: Matter, expected_version: int | None, now: datetime
    ) -> MatterRecord | None:
        """Overwrite the draft's content; None when there is no (matching) draft."""
        guard: dict[str, Any] = {"code": matter.code, "status": _DRAFT}
        if expected_version is not None:
            guard["version"] = expected_version
        current = await self.matters.find_one(guard, {"version": 1})
        if current is None:
            return None
        doc = version_document(matter, current["version"], MatterStatus.DRAFT, now)
        doc.pop("_id")
        updated = await self.matters.find_one_and_update(
            {**guard, "_id": current["_id"]},
            {"$set": doc},
            return_document=ReturnDocument.AFTER,
        )
        return MatterRecord.from_document(updated) if updated else None

    async def publish(self, code: str, now: datetime) -> MatterRecord | None:
        """Draft → PUBLISHED, the previous published → SUPERSEDED, in one transaction."""

        async def run(session: AsyncClientSession) -> Document | None:
            draft = await self.matters.find_one({"code": code, "status": _DRAFT}, session=session)
            if draft is None:
                return None
            seq = await self._bump(session)
            await self.matters.update_one(
                {"code": code, "status": _PUBLISHED},
                {"$set": {"status": MatterStatus.SUPERSEDED.value, "seq": seq}},
                session=session,
            )
            changes = {"status": _PUBLISHED, "published_at": now, "updated_at": now, "seq": seq}
            return await self.matters.find_one_and_update(
                {"_id": draft["_id"], "status": _DRAFT},
                {"$set": changes},
                return_document=ReturnDocument.AFTER,
                session=session,
            )

        async with self.db.client.start_session() as session:
            doc = await session.with_transaction(run)
        return MatterRecord.from_document(doc) if doc else None

    async def withdraw(self, code: str, now: datetime) -> MatterRecord | None:
        async def run(session: AsyncClientSession) -> Document | None:
            guard = {"code": code, "status": _PUBLISHED}
            if await self.matters.find_one(guard, {"_id": 1}, session=session) is None:
                return None
            seq = await self._bump(session)
            return await self.matters.find_one_and_update(
                guard,
                {"$set": {"status": MatterStatus.WITHDRAWN.value, "updated_at": now, "seq": seq}},
                return_document=ReturnDocument.AFTER,
                session=session,
            )

        async with self.db.client.start_session() as session:
            doc = await session.with_transaction(run)
        return MatterRecord.from_document(doc) if doc else None

    async def insert_published_many(self, docs: Iterable[Document]) -> int:
        """Bulk load (demo seed, importer): one insert_many, then one catalogue bump."""
        batch = list(docs)
        if batch:
            # Written before the bump, so nobody sees the new version without these rows.
            seq = await self.catalogue_version() + 1
            await self.matters.insert_many([{**d, "seq": seq} for d in batch], ordered=False)
            await self._bump(None)
        return len(batch)

    async def _bump(self, session: AsyncClientSession | None) -> int:
        """The next catalogue version. Documents a change touches carry it as `seq`, so a
        process can read just what changed since the version its search index was built at."""
        state = await self.db[STATE].find_one_and_update(
            {"_id": "catalogue"},
            {"$inc": {"version": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        if state is None:  # cannot happen with upsert and ReturnDocument.AFTER
            raise RuntimeError("catalogue state missing after upsert")
        return int(state["version"])

    async def changed_since(self, version: int) -> list[Document]:
        """Search rows of every version a publish or withdrawal touched after `version`."""
        cursor = self.matters.find({"seq": {"$gt": version}}, SEARCH_PROJECTION)
        return await cursor.to_list(None)

    async def catalogue_version(self) -> int:
        doc = await self.db[STATE].find_one({"_id": "catalogue"})
        return int(doc.get("version", 0)) if doc else 0

    async def clear(self) -> None:
        """Remove the whole catalogue (the demo seed replaces it). A new epoch tells search
        indexes that rows vanished without a trace, so they rebuild instead of updating."""
        for name in (MATTERS, DEPARTMENTS, BUNDLES, SERVICE_POINTS):
            await self.db[name].delete_many({})
        await self.db[STATE].update_one({"_id": "catalogue"}, {"$inc": {"epoch": 1}}, upsert=True)

    async def catalogue_epoch(self) -> int:
        doc = await self.db[STATE].find_one({"_id": "catalogue"})
        return int(doc.get("epoch", 0)) if doc else 0

    # -- reference data --------------------------------------------------------------------

    async def replace_reference(
        self,
        departments: Sequence[Department],
        bundles: Sequence[Bundle],
        points: Sequence[ServicePoint],
    ) -> None:
        for name, docs in (
            (DEPARTMENTS, [{"_id": d.code, **d.model_dump()} for d in departments]),
            (BUNDLES, [{"_id": b.code, **b.model_dump(mode="json")} for b in bundles]),
            (SERVICE_POINTS, [p.to_document() for p in points]),
        ):
            await self.db[name].delete_many({})
            if docs:
                await self.db[name].insert_many(docs)

    async def departments(self) -> list[Department]:
        cursor = self.db[DEPARTMENTS].find({}).sort("_id", ASCENDING)
        return [Department.model_validate(d) async for d in cursor]

    async def bundles(self, life_event: str | None = None) -> list[Bundle]:
        query = {"life_event": life_event} if life_event else {}
        cursor = self.db[BUNDLES].find(query).sort("_id", ASCENDING)
        return [Bundle.model_validate(d) async for d in cursor]

    async def bundle(self, code: str) -> Bundle | None:
        doc = await self.db[BUNDLES].find_one({"_id": code})
        return Bundle.model_validate(doc) if doc else None

    async def service_points(self, codes: Sequence[str]) -> list[ServicePoint]:
        cursor = self.db[SERVICE_POINTS].find({"_id": {"$in": list(codes)}})
        return [ServicePoint.from_document(d) async for d in cursor]

    async def all_service_points(self) -> list[ServicePoint]:
        cursor = self.db[SERVICE_POINTS].find({})
        return [ServicePoint.from_document(d) async for d in cursor]

    async def nearby(self, longitude: float, latitude: float, limit: int) -> list[ServicePoint]:
        near = {"$near": {"$geometry": {"type": "Point", "coordinates": [longitude, latitude]}}}
        cursor = self.db[SERVICE_POINTS].find({"location": near}).limit(limit)
        return [ServicePoint.from_document(d) async for d in cursor]
