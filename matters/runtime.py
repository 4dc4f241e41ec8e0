"""Per-process catalogue state: the catalogue version this process has seen, the search index
built for it, and the public-read response cache keyed by it.

Publishing bumps the version in MongoDB. Each process re-reads it at most once per
`VERSION_TTL` seconds (one indexed find_one, shared by all concurrent requests), so a publish in
any process reaches every other within about a second; in the publishing process at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

from matters.models import MatterRecord
from matters.search import SearchIndex
from matters.store import MatterStore

VERSION_TTL = 1.0
CACHE_ENTRIES = 4096


class ResponseCache:
    """A small LRU of serialized public responses: key → (ETag, body)."""

    def __init__(self, capacity: int = CACHE_ENTRIES) -> None:
        self.capacity = capacity
        self.entries: OrderedDict[tuple[str, str, int], tuple[str, bytes]] = OrderedDict()

    def get(self, key: tuple[str, str, int]) -> tuple[str, bytes] | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
        return entry

    def put(self, key: tuple[str, str, int], etag: str, body: bytes) -> None:
        self.entries[key] = (etag, body)
        self.entries.move_to_end(key)
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)

    def drop_older_than(self, version: int) -> None:
        for key in [k for k in self.entries if k[2] < version]:
            del self.entries[key]


class CatalogueRuntime:
    def __init__(self) -> None:
        self.version = -1
        self._checked_at = float("-inf")
        self._version_lock = asyncio.Lock()
        self._index: SearchIndex | None = None
        self._index_lock = asyncio.Lock()
        self.responses = ResponseCache()
        # Published matters by code, valid for `_published_version` only: every submission
        # needs its matter, and a record changes only with a catalogue version.
        self._published: dict[str, MatterRecord] = {}
        self._published_version = -1

    async def current_version(self, store: MatterStore) -> int:
        if time.monotonic() - self._checked_at < VERSION_TTL:
            return self.version
        async with self._version_lock:
            if time.monotonic() - self._checked_at >= VERSION_TTL:
                self.observe(await store.catalogue_version())
        return self.version

    def observe(self, version: int) -> None:
        """Record a version read from the database (or just written by this process)."""
        self._checked_at = time.monotonic()
        if version != self.version:
            self.version = version
            self.responses.drop_older_than(version)

    async def published(self, store: MatterStore, code: str) -> MatterRecord | None:
        """The published version of `code` as of the catalogue version this process sees
        (so as fresh as the guide responses: a publish elsewhere shows within VERSION_TTL).
        Unknown codes are not cached (any string may be asked for)."""
        version = await self.current_version(store)
        if version != self._published_version:
            self._published = {}
            self._published_version = version
        record = self._published.get(code)
        if record is None:
            # Read after the version, so never older than it; a newer one is dropped with
            # the version it came with.
            record = await store.published(code)
            if record is not None and len(self._published) < CACHE_ENTRIES:
                self._published[code] = record
        return record

    def invalidate(self) -> None:
        """This process changed the catalogue: read the version again on the next request."""
        self._checked_at = float("-inf")

    async def search_index(self, store: MatterStore) -> SearchIndex:
        version = await self.current_version(store)
        index = self._index
        if index is not None and index.version == version:
            return index
        async with self._index_lock:
            index = self._index
            if index is not None and index.version == version:
                return index
            epoch = await store.catalogue_epoch()
            if index is not None and version > index.version and epoch == index.epoch:
                # Usually a publish or two: apply just those rows (milliseconds) instead of
                # reading the whole catalogue again; rebuild when much has changed.
                rows = await store.changed_since(index.version)
                small = len(rows) <= max(50, len(index) // 10)
                if small and len(index.dead) + len(rows) <= len(index.docs) // 5 + 50:
                    index.apply(version, rows)
                    return index
            rows = await store.search_rows()
            # Segmenting and spelling thousands of names is CPU work: keep the loop free.
            index = await asyncio.to_thread(SearchIndex, version, rows)
            index.epoch = epoch
            self._index = index
        return index
