"""Material uploads and the vault: who may upload how much, what is kept, who may read it."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pymongo
from bson import ObjectId

from app.db import Document
from app.errors import AlreadyExistsError, DomainError, RateLimitedError
from app.pagination import Connection
from app.ratelimit import RateLimiter
from applications.uploads import checks
from applications.uploads.errors import MaterialInUseError, UploadNotFoundError, UploadRefused
from applications.uploads.store import Upload, UploadStore
from auth.permissions import Viewer

log = logging.getLogger(__name__)
CHUNK = 256 * 1024


class Readable(Protocol):
    async def read(self, size: int = -1) -> bytes: ...


@dataclass(frozen=True, slots=True)
class PreparedUpload:
    """A checked file and its upload document, not written yet."""

    doc: Document
    content: bytes  # what is stored: the re-encoded image or the checked PDF

    @property
    def id(self) -> ObjectId:
        return ObjectId(self.doc["_id"])

    @property
    def owner_id(self) -> ObjectId:
        return ObjectId(self.doc["owner_id"])

    @property
    def sha256(self) -> str:
        return str(self.doc["sha256"])


@dataclass(frozen=True, slots=True)
class UploadPolicy:
    max_bytes: int
    limits: checks.Limits
    quota_bytes: int
    quota_files: int
    orphan_retention: timedelta
    db_timeout: float | None = None  # the database budget once the body is in (see upload)


@dataclass
class UploadService:
    store: UploadStore
    policy: UploadPolicy
    rate: RateLimiter
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def upload(self, viewer: Viewer, file_name: str | None, source: Readable) -> Upload:
        prepared = await self.prepare(viewer, file_name, source)
        # Multipart requests have no request-wide database deadline (their body may arrive
        # slowly); the work from here on gets the usual budget.
        with pymongo.timeout(self.policy.db_timeout):
            return await self.keep(prepared)

    async def prepare(
        self, viewer: Viewer, file_name: str | None, source: Readable
    ) -> PreparedUpload:
        """The file read (bounded), checked and re-encoded, its upload document made: nothing
        is written yet (`keep`, or a submission's own transaction, writes it)."""
        wait = self.rate.hit(str(viewer.user_id))
        if wait > 0:
            raise RateLimitedError(
                "上传过于频繁，请稍后再试 (too many uploads)",
                retry_after=math.ceil(wait),
                field="file",
            )
        data = await self._read_bounded(source)
        # Decoding and re-encoding is CPU work: off the event loop.
        inspected = await asyncio.to_thread(checks.inspect, data, self.policy.limits)
        doc = {
            "_id": ObjectId(),
            "owner_id": viewer.user_id,
            "file_name": checks.safe_name(file_name, inspected.extension),
            "content_type": inspected.content_type,
            "size": len(inspected.content),
            "sha256": hashlib.sha256(inspected.content).hexdigest(),
            "created_at": self.now(),
            "attached_to": [],
            "width": inspected.width,
            "height": inspected.height,
        }
        return PreparedUpload(doc, inspected.content)

    async def keep(self, prepared: PreparedUpload) -> Upload:
        """Write a prepared upload into its owner's vault; the owner's upload of the same
        content instead if there is one (the same content by the same owner is one upload)."""
        doc, owner, digest = prepared.doc, prepared.owner_id, prepared.sha256
        size = len(prepared.content)
        policy = self.policy
        try:
            # The usual case, one transaction: quota, bytes and document together. The
            # unique (owner, sha256) index decides on duplicates: no look-up first.
            kept = await self.store.keep(
                doc, prepared.content, policy.quota_files, policy.quota_bytes
            )
        except AlreadyExistsError:
            return await self._winner(owner, digest)
        if kept is not None:
            return kept
        # The owner's first upload, or the quota is full: step by step.
        if not await self.store.reserve(owner, size, policy.quota_files, policy.quota_bytes):
            existing = await self.store.by_hash(owner, digest)
            if existing is not None:
                return existing  # nothing new to keep
            raise DomainError(
                "材料库已满，请先删除不再需要的材料 (upload quota reached)",
                code="QUOTA_EXCEEDED",
                field="file",
            )
        try:
            return await self.store.store(doc, prepared.content)
        except AlreadyExistsError:
            # Uploaded before (or concurrently): its bytes were dropped, answer with the first.
            await self.store.release(owner, size)
            return await self._winner(owner, digest)
        except BaseException:
            await self.store.release(owner, size)
            raise

    async def _winner(self, owner: ObjectId, digest: str) -> Upload:
        winner = await self.store.by_hash(owner, digest)
        if winner is None:  # pragma: no cover - the unique index says it exists
            raise AlreadyExistsError("已上传过相同内容 (same content)")
        return winner

    async def _read_bounded(self, source: Readable) -> bytes:
        """At most max_bytes + 1 are ever read: an oversize file is refused at that point."""
        limit = self.policy.max_bytes
        parts: list[bytes] = []
        seen = 0
        while True:
            chunk = await source.read(min(CHUNK, limit + 1 - seen))
            if not chunk:
                break
            parts.append(chunk)
            seen += len(chunk)
            if seen > limit:
                raise UploadRefused(
                    "FILE_TOO_LARGE",
                    f"文件超过 {limit // (1024 * 1024)} MB 上限 (file too large)",
                )
        return b"".join(parts)

    async def mine(
        self, viewer: Viewer, first: int | None, after: str | None
    ) -> Connection[Upload]:
        return await self.store.mine(viewer.user_id, first, after)

    async def own(self, viewer: Viewer, upload_id: ObjectId) -> Upload:
        """The viewer's upload; someone else's is the same NOT_FOUND as none (no probing)."""
        upload = await self.store.get(upload_id)
        if upload is None or upload.owner_id != viewer.user_id:
            raise UploadNotFoundError()
        return upload

    async def delete(self, viewer: Viewer, upload_id: ObjectId) -> Upload:
        upload = await self.own(viewer, upload_id)
        deleted = await self.store.delete_unattached({"_id": upload.id})
        if not deleted:
            raise MaterialInUseError()
        return deleted[0]

    async def sweep_orphans(self, limit: int = 1000) -> int:
        """Remove uploads no application ever used, older than the retention period."""
        cutoff = self.now() - self.policy.orphan_retention
        gone = await self.store.delete_unattached({"created_at": {"$lt": cutoff}}, limit)
        if gone:
            log.info("orphan uploads removed", extra={"count": len(gone)})
        return len(gone)
