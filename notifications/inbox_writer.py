"""Inbox copies for a job's recipients: exactly once per (user, source), with the push decision
(opt-out per category, the daily policy cap) made when the copy is written."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId

from notifications.models import Category, InboxMessage
from notifications.policy import POLICY_PUSHES_PER_DAY, day_start, is_capped_category
from notifications.store import NotificationStore


def inbox_decisions(
    user_ids: Sequence[ObjectId],
    category: Category,
    opted_out: dict[ObjectId, set[str]],
    pushes_today: dict[ObjectId, int],
) -> dict[ObjectId, bool]:
    """Whether each recipient's copy may be pushed (True) or stays in the inbox only."""
    decisions = {}
    for uid in user_ids:
        allowed = category.value not in opted_out.get(uid, set())
        if allowed and is_capped_category(category):
            allowed = pushes_today.get(uid, 0) < POLICY_PUSHES_PER_DAY
        decisions[uid] = allowed
    return decisions


async def ensure_inbox(
    store: NotificationStore, job: dict[str, Any], now: datetime
) -> tuple[int, set[ObjectId]]:
    """Every recipient's inbox copy exists; returns (copies, who may get a push)."""
    user_ids: list[ObjectId] = job["user_ids"]
    source: str = job["source"]
    msg = job["message"]
    category = Category(msg["category"])
    existing = await store.inbox_for_source(source, user_ids)
    have = {m.user_id for m in existing}
    missing = [u for u in user_ids if u not in have]
    if missing:
        opted = await store.opted_out_many(missing)
        pushes = (
            await store.policy_pushes_since(missing, day_start(now), source)
            if is_capped_category(category)
            else {}
        )
        decisions = inbox_decisions(missing, category, opted, pushes)
        await store.insert_inbox(
            [
                InboxMessage(
                    id=ObjectId(),
                    user_id=uid,
                    source=source,
                    title=msg["title"],
                    body=msg["body"],
                    category=category,
                    deep_link=msg.get("deep_link"),
                    created_at=now,
                    expires_at=msg.get("expires_at"),
                    push=decisions[uid],
                    campaign_id=job.get("campaign_id"),
                )
                for uid in missing
            ]
        )
        # Re-read: a concurrent writer may have won some inserts with its own decision.
        existing = await store.inbox_for_source(source, user_ids)
    return len(existing), {m.user_id for m in existing if m.push}
