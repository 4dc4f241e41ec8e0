"""Inbox copies for a job's recipients: exactly once per (user, source), with the push decision
(opt-out per category, the daily policy cap) made when the copy is written.

The cap is atomic in MongoDB, not in this process: the n-th capped push of a user's day is a
copy carrying `push_slot = "<day>#<n>"`, and a unique partial index on (user_id, push_slot)
lets only one copy hold each slot. Two workers that both count one earlier push both try slot
2; one insert fails on the index, and that recipient is decided again from a fresh count (slot
3 is over the cap: inbox only). Nothing is read-then-written without a guard.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId

from auth.directory import UserDirectory
from notifications.models import Category, InboxMessage
from notifications.policy import POLICY_PUSHES_PER_DAY, day_start, is_capped_category
from notifications.store import PREFERENCES, NotificationStore

# Each round settles every recipient who lost no slot race; a recipient loses at most one race
# per concurrent writer, and the last round pushes nobody, so the loop always ends.
MAX_ROUNDS = 4

MakeCopy = Callable[[ObjectId, bool, str | None], InboxMessage]


def inbox_decisions(
    user_ids: Sequence[ObjectId],
    category: Category,
    opted_out: dict[ObjectId, set[str]],
    pushes_today: dict[ObjectId, int],
    day: str,
) -> dict[ObjectId, tuple[bool, str | None]]:
    """Per recipient: may the copy be pushed, and which cap slot it takes if so."""
    decisions: dict[ObjectId, tuple[bool, str | None]] = {}
    for uid in user_ids:
        if category.value in opted_out.get(uid, set()):
            decisions[uid] = (False, None)
        elif not is_capped_category(category):
            decisions[uid] = (True, None)
        else:
            n = pushes_today.get(uid, 0) + 1
            decisions[uid] = (True, f"{day}#{n}") if n <= POLICY_PUSHES_PER_DAY else (False, None)
    return decisions


async def write_copies(
    store: NotificationStore,
    user_ids: Sequence[ObjectId],
    source: str,
    category: Category,
    now: datetime,
    make: MakeCopy,
) -> list[InboxMessage]:
    """Every recipient's copy for `source`, written if missing; returns all of them.

    Optimistic: the first round writes every recipient's copy without reading first (a job is
    almost always processed once); copies that exist already fail on the unique (user,
    source) index, and only then are the copies read back. A recipient whose account is gone
    or being erased gets nothing (checked first); one erased after that check fails on the
    tombstone erasure left in the slot, and gets nothing either.
    """
    # Only people who still have an account, not being erased: every domain's notice (a late
    # licence, a shipment corrected after the erasure, a campaign batch planned before it) is
    # dropped here, so no caller has to remember to check. For one recipient (notify(), a
    # licence check: the hot paths) the check and the first preferences read are one command.
    directory = UserDirectory(store.db)
    first_opted: dict[ObjectId, set[str]] | None = None
    if len(user_ids) == 1:
        joined = await directory.active_joined(user_ids, PREFERENCES)
        first_opted = {u: set(d[0].get("opted_out", [])) for u, d in joined.items() if d}
        live = set(joined)
    else:  # a campaign chunk: one more `_id` read per 500 recipients
        live = await directory.active_ids(user_ids)
    user_ids = [u for u in user_ids if u in live]
    existing: list[InboxMessage] = []
    erased: set[ObjectId] = set()  # their slot holds an erasure tombstone: no copy, no push
    start = day_start(now)
    day = start.strftime("%Y-%m-%dT%H")
    for round_ in range(MAX_ROUNDS):
        have = {m.user_id for m in existing} | erased
        missing = [u for u in user_ids if u not in have]
        if not missing:
            break
        if round_ == 0 and first_opted is not None:
            opted = first_opted
        else:
            opted = await store.opted_out_many(missing)
        pushes = (
            await store.policy_pushes_since(missing, start, source)
            if is_capped_category(category)
            else {}
        )
        decisions = inbox_decisions(missing, category, opted, pushes, day)
        last = round_ == MAX_ROUNDS - 1
        copies = [
            make(uid, False, None) if last and decisions[uid][1] else make(uid, *decisions[uid])
            for uid in missing
        ]
        inserted = await store.insert_inbox(copies)
        if len(inserted) == len(copies):  # the usual case: no race, no re-read
            existing += inserted
            break
        # Lost some inserts: to another writer of this source (its copy and decision stand) or
        # a cap slot taken meanwhile (decide again). Re-read to tell them apart.
        existing, erased = await store.slots_for_source(source, user_ids)
    return existing


async def ensure_inbox(
    store: NotificationStore, job: dict[str, Any], now: datetime
) -> tuple[int, set[ObjectId]]:
    """Every recipient of the job has its copy; returns (copies, who may get a push)."""
    msg = job["message"]
    category = Category(msg["category"])

    def make(uid: ObjectId, push: bool, slot: str | None) -> InboxMessage:
        return InboxMessage(
            id=ObjectId(),
            user_id=uid,
            source=job["source"],
            title=msg["title"],
            body=msg["body"],
            category=category,
            deep_link=msg.get("deep_link"),
            created_at=now,
            expires_at=msg.get("expires_at"),
            push=push,
            campaign_id=job.get("campaign_id"),
            push_slot=slot,
        )

    copies = await write_copies(store, job["user_ids"], job["source"], category, now, make)
    return len(copies), {m.user_id for m in copies if m.push}
