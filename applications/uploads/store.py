"""The only module touching uploads: metadata in `material_uploads`, bytes in GridFS.

GridFS bucket `materials` (`materials.files` / `materials.chunks`) holds the content under a
fresh ObjectId; the client's file name is metadata only, never a key or a path. The metadata
document is what the API reads: owner, display name, type, size, SHA-256 and `attached_to`, the
applications that use it (an upload with any is evidence and cannot be deleted).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo import ASCENDING, DESCENDING, IndexModel, InsertOne, UpdateMany, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from pymongo.results import ClientBulkWriteResult

from app.db import CollectionIndexes, Document
from app.errors import AlreadyExistsError
from app.pagination import Connection, SortKey, paginate
from app.txn import DuplicateKeyAt, Write, commit_together

UPLOADS = "material_uploads"
QUOTAS = "material_quotas"  # per owner: files and bytes kept (O(1) quota checks)
BUCKET = "materials"
CHUNK_SIZE = 255 * 1024  # GridFS's default chunk size
RECENT = SortKey((("created_at", DESCENDING), ("_id", DESCENDING)))

INDEXES = [
    CollectionIndexes(
        UPLOADS,
        [
            # Dedup: the same content by the same owner is one upload.
            IndexModel(
                [("owner_id", ASCENDING), ("sha256", ASCENDING)], name="owner_sha256", unique=True
            ),
            IndexModel(
                [("owner_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="owner_recent",
            ),
            IndexModel([("created_at", ASCENDING)], name="created_at"),  # the orphan sweep
        ],
    ),
    # The GridFS spec's own indexes, declared here because `store` writes the bucket's
    # documents itself (see there) instead of letting each upload check for them.
    CollectionIndexes(
        f"{BUCKET}.files",
        [
            IndexModel(
                [("filename", ASCENDING), ("uploadDate", ASCENDING)], name="filename_1_uploadDate_1"
            )
        ],
    ),
    CollectionIndexes(
        f"{BUCKET}.chunks",
        [
            IndexModel(
                [("files_id", ASCENDING), ("n", ASCENDING)], name="files_id_1_n_1", unique=True
            )
        ],
    ),
]


@dataclass(frozen=True, slots=True)
class Upload:
    id: ObjectId
    owner_id: ObjectId
    file_id: ObjectId
    file_name: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    attached_to: tuple[ObjectId, ...]
    width: int | None = None
    height: int | None = None

    @classmethod
    def from_document(cls, doc: Document) -> Upload:
        return cls(
            id=doc["_id"],
            owner_id=doc["owner_id"],
            file_id=doc["file_id"],
            file_name=doc["file_name"],
            content_type=doc["content_type"],
            size=doc["size"],
            sha256=doc["sha256"],
            created_at=doc["created_at"],
            attached_to=tuple(doc.get("attached_to", ())),
            width=doc.get("width"),
            height=doc.get("height"),
        )


class UploadStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.uploads = db[UPLOADS]
        self.bucket = AsyncGridFSBucket(db, bucket_name=BUCKET)

    async def by_hash(self, owner_id: ObjectId, sha256: str) -> Upload | None:
        doc = await self.uploads.find_one({"owner_id": owner_id, "sha256": sha256})
        return Upload.from_document(doc) if doc else None

    async def get(self, upload_id: ObjectId) -> Upload | None:
        doc = await self.uploads.find_one({"_id": upload_id})
        return Upload.from_document(doc) if doc else None

    async def get_many(self, ids: list[ObjectId]) -> dict[ObjectId, Upload]:
        docs = await self.uploads.find({"_id": {"$in": ids}}).to_list(None)
        return {d["_id"]: Upload.from_document(d) for d in docs}

    async def reserve(self, owner_id: ObjectId, size: int, max_files: int, max_bytes: int) -> bool:
        """Count one more file of `size` against the owner's quota, if it fits (atomic: the
        limits are in the update's filter). False: it does not fit."""
        quotas = self.db[QUOTAS]
        fits = {"_id": owner_id, "files": {"$lt": max_files}, "bytes": {"$lte": max_bytes - size}}
        result = await quotas.update_one(fits, {"$inc": {"files": 1, "bytes": size}})
        if result.matched_count:
            return True
        if size > max_bytes or max_files < 1:
            return False
        try:  # the owner's first upload (or the counter is full: then the insert fails)
            await quotas.insert_one({"_id": owner_id, "files": 1, "bytes": size})
        except DuplicateKeyError:
            return False
        return True

    async def keep(
        self, doc: Document, content: bytes, max_files: int, max_bytes: int
    ) -> Upload | None:
        """`reserve` + `store` in one transaction, for an owner whose quota counter exists: the
        count, the GridFS chunks and files document and the upload document all or nothing
        (no release or clean-up to run after a failure, none of them a retryable write of its
        own). None, with nothing written, when the counter did not admit it (absent: a first
        upload, or full): `reserve` then decides. AlreadyExistsError: the owner has this
        content already (the unique (owner, sha256) index)."""
        writes, (kept,) = self.keep_writes([(doc, content)], max_files, max_bytes)

        def check(result: ClientBulkWriteResult) -> None:
            if not admitted(result, 0):
                raise _NotAdmitted()

        try:
            await commit_together(self.db.client, writes, check)
        except _NotAdmitted:
            return None
        except DuplicateKeyAt as exc:
            if exc.index != len(writes) - 1:
                raise
            raise AlreadyExistsError("已上传过相同内容 (same content)") from exc
        return Upload.from_document(kept)

    def keep_writes(
        self, files: list[tuple[Document, bytes]], max_files: int, max_bytes: int
    ) -> tuple[list[Write], list[Document]]:
        """`keep` of these uploads (one owner, distinct contents) as writes for a transaction,
        and the upload documents as written (with their `file_id`): first the quota count (its
        matched count must be 1: `admitted`), then each file's GridFS chunks and files
        document, then the upload documents (last: a duplicate there means the owner has that
        content already)."""
        name = self.db.name
        owner = files[0][0]["owner_id"]
        total = sum(len(content) for _, content in files)
        fits = {
            "_id": owner,
            "files": {"$lte": max_files - len(files)},
            "bytes": {"$lte": max_bytes - total},
        }
        writes: list[Write] = [
            UpdateOne(
                fits,
                {"$inc": {"files": len(files), "bytes": total}},
                namespace=f"{name}.{QUOTAS}",
            )
        ]
        kept: list[Document] = []
        for doc, content in files:
            file_id = ObjectId()
            writes += [
                InsertOne(chunk, namespace=f"{name}.{BUCKET}.chunks")
                for chunk in _chunks(file_id, content)
            ]
            writes.append(
                InsertOne(
                    _files_doc(file_id, doc, len(content)), namespace=f"{name}.{BUCKET}.files"
                )
            )
            kept.append({**doc, "file_id": file_id})
        writes += [InsertOne(doc, namespace=f"{name}.{UPLOADS}") for doc in kept]
        return writes, kept

    async def release(self, owner_id: ObjectId, size: int) -> None:
        await self.db[QUOTAS].update_one({"_id": owner_id}, {"$inc": {"files": -1, "bytes": -size}})

    async def usage(self, owner_id: ObjectId) -> tuple[int, int]:
        """(files, bytes) the owner keeps, as counted."""
        doc = await self.db[QUOTAS].find_one({"_id": owner_id})
        return (doc["files"], doc["bytes"]) if doc else (0, 0)

    async def store(self, doc: Document, content: bytes) -> Upload:
        """Bytes first, then the metadata; if the metadata cannot be written the bytes go.

        The GridFS documents are written as the GridFS spec lays them out (chunks, then the
        files document), any GridFS reader can read them. Not through `upload_from_stream`:
        that checks for the bucket's indexes with two extra queries on every upload, and the
        indexes are declared with the others (INDEXES) instead."""
        file_id = ObjectId()
        chunks = _chunks(file_id, content)
        try:
            await self.db[f"{BUCKET}.chunks"].insert_many(chunks)
            await self.db[f"{BUCKET}.files"].insert_one(_files_doc(file_id, doc, len(content)))
        except BaseException:
            await self.db[f"{BUCKET}.chunks"].delete_many({"files_id": file_id})
            raise
        doc = {**doc, "file_id": file_id}
        try:
            await self.uploads.insert_one(doc)
        except BaseException as exc:
            await self._drop_file(file_id)
            if isinstance(exc, DuplicateKeyError):
                raise AlreadyExistsError("已上传过相同内容 (same content)") from exc
            raise
        return Upload.from_document(doc)

    async def read(self, upload: Upload) -> bytes:
        stream = await self.bucket.open_download_stream(upload.file_id)
        return await stream.read()

    async def mine(
        self, owner_id: ObjectId, first: int | None, after: str | None
    ) -> Connection[Upload]:
        return await paginate(
            self.uploads, {"owner_id": owner_id}, RECENT, first, after, Upload.from_document
        )

    async def attach(
        self, owners: list[ObjectId], ids: list[ObjectId], application_id: ObjectId
    ) -> int:
        """Mark uploads of these owners as used by an application; the count actually marked."""
        result = await self.uploads.update_many(*_attach(owners, ids, application_id))
        return result.matched_count

    def attach_write(
        self, owners: list[ObjectId], ids: list[ObjectId], application_id: ObjectId
    ) -> UpdateMany:
        """`attach` as a write for the application's own transaction (its matched count must
        be len(ids), as for `attach`)."""
        query, update = _attach(owners, ids, application_id)
        return UpdateMany(query, update, namespace=f"{self.db.name}.{UPLOADS}")

    async def detach(self, ids: list[ObjectId], application_id: ObjectId) -> None:
        await self.uploads.update_many(
            {"_id": {"$in": ids}}, {"$pull": {"attached_to": application_id}}
        )

    async def delete_unattached(
        self, query: dict[str, Any], limit: int | None = None
    ) -> list[Upload]:
        """Delete uploads matching `query` that no application uses; the guard is in each
        delete's filter, so an upload attached meanwhile survives."""
        guard = {"$or": [{"attached_to": {"$exists": False}}, {"attached_to": {"$size": 0}}]}
        cursor = self.uploads.find({"$and": [query, guard]})
        if limit is not None:
            cursor = cursor.limit(limit)
        deleted = []
        for doc in await cursor.to_list(None):
            gone = await self.uploads.find_one_and_delete({"$and": [{"_id": doc["_id"]}, guard]})
            if gone is not None:
                await self._drop_file(gone["file_id"])
                await self.release(gone["owner_id"], gone["size"])
                deleted.append(Upload.from_document(gone))
        return deleted

    async def _drop_file(self, file_id: ObjectId) -> None:
        with contextlib.suppress(NoFile):
            await self.bucket.delete(file_id)


def _attach(
    owners: list[ObjectId], ids: list[ObjectId], application_id: ObjectId
) -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        {"_id": {"$in": ids}, "owner_id": {"$in": owners}},
        {"$addToSet": {"attached_to": application_id}},
    )


def admitted(result: ClientBulkWriteResult, index: int) -> bool:
    """Whether the quota count at write `index` of a `keep_writes` batch matched."""
    return result.update_results[index].matched_count == 1


class _NotAdmitted(Exception):
    """The quota counter did not match (absent or full): abort `keep`'s transaction."""


def _chunks(file_id: ObjectId, content: bytes) -> list[Document]:
    return [
        {"files_id": file_id, "n": n, "data": content[i : i + CHUNK_SIZE]}
        for n, i in enumerate(range(0, len(content), CHUNK_SIZE))
    ]


def _files_doc(file_id: ObjectId, doc: Document, length: int) -> Document:
    """The GridFS files document, as the GridFS spec lays it out."""
    return {
        "_id": file_id,
        "length": length,
        "chunkSize": CHUNK_SIZE,
        "uploadDate": doc["created_at"],
        "filename": str(doc["_id"]),
        "metadata": {"upload_id": doc["_id"]},
    }
