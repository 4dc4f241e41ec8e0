"""Inbox events for WebSocket subscribers, whichever process wrote the message.

Workers write campaign copies in other processes, so an in-process signal is not enough. Each
API process keeps one MongoDB change stream on the inbox and fans inserts out to its own
subscribers by user id: one cursor per process, not one per socket (a change stream holds a
pooled connection while it waits).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from app.db import Document
from notifications.models import InboxMessage
from notifications.store import INBOX

log = logging.getLogger(__name__)

QUEUE_LIMIT = 100  # a subscriber that stops reading loses its oldest events, not the process


class InboxHub:
    def __init__(self) -> None:
        self._subscribers: dict[ObjectId, set[asyncio.Queue[InboxMessage]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def subscriber_count(self, user_id: ObjectId) -> int:
        return len(self._subscribers.get(user_id, ()))

    async def subscribe(
        self, db: AsyncDatabase[Document], user_id: ObjectId
    ) -> AsyncIterator[InboxMessage]:
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()
            # A fresh context: the watch outlives the request that started it, and must not
            # inherit that request's database deadline (app.http_guards.DatabaseDeadline).
            self._task = asyncio.create_task(self._watch(db), context=contextvars.Context())
        queue: asyncio.Queue[InboxMessage] = asyncio.Queue(QUEUE_LIMIT)
        self._subscribers.setdefault(user_id, set()).add(queue)
        try:
            # Only count as subscribed once the stream is open, so nothing inserted after
            # `subscriber_count` turns positive can be missed.
            await self._ready.wait()
            while True:
                yield await queue.get()
        finally:
            queues = self._subscribers.get(user_id)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._subscribers[user_id]

    def ready_for(self, user_id: ObjectId) -> bool:
        return self._ready.is_set() and self.subscriber_count(user_id) > 0

    async def _watch(self, db: AsyncDatabase[Document]) -> None:
        resume: Any = None
        while True:
            try:
                stream = await db[INBOX].watch(
                    [{"$match": {"operationType": "insert"}}], resume_after=resume
                )
                async with stream:
                    self._ready.set()
                    async for change in stream:
                        resume = change["_id"]
                        self._deliver(InboxMessage.from_document(change["fullDocument"]))
            except asyncio.CancelledError:
                raise
            except PyMongoError:
                log.warning("inbox change stream interrupted; reopening", exc_info=True)
                await asyncio.sleep(1.0)

    def _deliver(self, message: InboxMessage) -> None:
        for queue in self._subscribers.get(message.user_id, ()):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
