"""A notice planned now and delivered later: its outbox job written inside another domain's
transaction, its inbox copy right after the commit.

`notify()` writes the outbox job, then the inbox copy. A domain that already writes several
documents in one transaction (a licence check: usage record + holder event) can instead add the
job to that transaction — the record and the notification are then committed together, and it
costs no extra round trip — and call `deliver()` after the commit. If `deliver()` fails or the
process dies first, `zsb worker` writes the inbox copy from the job (`ensure_inbox`), as it does
for `notify()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo import InsertOne
from pymongo.asynchronous.database import AsyncDatabase

from app.db import Document
from notifications import outbox
from notifications.inbox_writer import write_copies
from notifications.models import Category, InboxMessage
from notifications.outbox_store import OUTBOX
from notifications.policy import Clock, SystemClock
from notifications.store import NotificationStore
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

    async def deliver(self) -> InboxMessage | None:
        """The inbox copy (after the job is committed); idempotent per job. None when the
        recipient's account is gone or being erased (or an erasure tombstone holds the slot):
        nothing is written for them."""
        msg = self.job["message"]
        source: str = self.job["source"]
        now = self.job["created_at"]

        def make(uid: ObjectId, push: bool, slot: str | None) -> InboxMessage:
            return InboxMessage(
                id=ObjectId(),
                user_id=uid,
                source=source,
                title=msg["title"],
                body=msg["body"],
                category=self.category,
                deep_link=msg["deep_link"],
                created_at=now,
                expires_at=msg["expires_at"],
                push=push,
                push_slot=slot,
            )

        store = NotificationStore(self.db)
        copies = await write_copies(store, [self.user_id], source, self.category, now, make)
        return copies[0] if copies else None


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
