"""A notice planned now and delivered later: its outbox job written inside another domain's
transaction, its inbox copy right after the commit.

`notify()` writes the outbox job, then the inbox copy. A domain that already writes several
documents in one transaction (a licence check: usage record + holder event) can instead add the
job to that transaction — the record and the notification are then committed together, and it
costs no extra round trip — and call `deliver()` after the commit. If `deliver()` fails or the
process dies first, `zsb worker` writes the inbox copy from the job (`ensure_inbox`), as it does
for `notify()`.

`with_copy()` goes one step further for a notice whose category has no daily push cap: it reads
the recipient's account and preferences (one `aggregate`: an erased account gets no copy) and
returns the inbox copy's insert too, so job and
copy are committed with the caller's documents and nothing is left for after the commit. A
transaction's statements are also not retryable writes: on SecantusDB each retryable write costs
a scan of the last 30 minutes' recorded writes (see docs/operations.md, "Retryable writes"),
which a transaction's commit does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo import InsertOne
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from auth.directory import UserDirectory
from notifications import outbox
from notifications.inbox_writer import write_copies
from notifications.models import Category, InboxMessage
from notifications.outbox_store import OUTBOX
from notifications.policy import Clock, SystemClock, is_capped_category
from notifications.store import INBOX, PREFERENCES, NotificationStore
from notifications.templates import get_template


@dataclass(frozen=True, slots=True)
class Notice:
    db: AsyncDatabase[Document]
    user_id: ObjectId
    job: dict[str, Any]
    category: Category

    def outbox_write(self) -> InsertOne[Document]:
        """The job's insert, for `client.bulk_write` inside the caller's transaction."""
        return InsertOne(self.job, namespace=f"{self.db.name}.{OUTBOX}")

    def _copy(self, uid: ObjectId, push: bool, slot: str | None) -> InboxMessage:
        msg = self.job["message"]
        return InboxMessage(
            id=ObjectId(),
            user_id=uid,
            source=self.job["source"],
            title=msg["title"],
            body=msg["body"],
            category=self.category,
            deep_link=msg["deep_link"],
            created_at=self.job["created_at"],
            expires_at=msg["expires_at"],
            push=push,
            push_slot=slot,
        )

    async def deliver(self) -> InboxMessage | None:
        """The inbox copy (after the job is committed); idempotent per job. None when the
        recipient's account is gone or being erased (or an erasure tombstone holds the slot):
        nothing is written for them."""
        store = NotificationStore(self.db)
        copies = await write_copies(
            store, [self.user_id], self.job["source"], self.category, self.job["created_at"],
            self._copy,
        )  # fmt: skip
        return copies[0] if copies else None

    async def with_copy(self) -> list[InsertOne[Document]] | None:
        """The job's insert and the inbox copy's, for the caller's transaction; None for a
        capped category (its push slot is raced for, see inbox_writer: `deliver()` after the
        commit then). Reads the recipient's opt-outs now: a change of preferences between this
        read and the commit applies from the next notice on, as it would a moment later."""
        if is_capped_category(self.category):
            return None
        # The recipient's account and preferences in one read (inbox_writer does the same):
        # an account gone or being erased gets no copy — the job alone, which the worker's
        # writer drops (an empty list: the caller writes the job, delivers nothing after).
        joined = await UserDirectory(self.db).active_joined([self.user_id], PREFERENCES)
        if self.user_id not in joined:
            return []
        prefs = joined[self.user_id]
        opted = set(prefs[0].get("opted_out", [])) if prefs else set()
        copy = self._copy(self.user_id, self.category.value not in opted, None)
        return [
            self.outbox_write(),
            InsertOne(copy.to_document(), namespace=f"{self.db.name}.{INBOX}"),
        ]


def plan(
    db: AsyncDatabase[Document],
    user_id: ObjectId,
    template: str,
    data: Mapping[str, object],
    *,
    category: Category | None = None,
    urgent: bool = False,
    key: str | None = None,
    clock: Clock | None = None,
) -> Notice:
    """Render the notice and build its outbox job; writes nothing (see `notify` for the
    arguments: an unknown template or missing data raises here, before any write)."""
    rendered = get_template(template).render(data)
    category = category or rendered.category
    now = (clock or SystemClock()).now()
    job_id = f"notify:{key}" if key else f"notify:{ObjectId()}"
    message: dict[str, object] = {
        "title": rendered.title,
        "body": rendered.body,
        "category": category.value,
        "deep_link": rendered.deep_link,
        "expires_at": now + outbox.NOTIFY_MESSAGE_TTL,
        "data": {"template": template, "collapseKey": key or job_id},
    }
    job = outbox.new_job(
        job_id, user_ids=[user_id], source=job_id, message=message, urgent=urgent, now=now
    )
    return Notice(db, user_id, job, category)
