"""Erasing an account (PIPL art. 47) as a resumable sequence, closed against concurrent writes.

1. **Mark**: `users.erasing_at` is set by a guarded update (`UserStore.begin_erasure`). From then
   on every mutation for the person is refused (`app/erasure_guard.py`, ACCOUNT_ERASING), new
   sign-ins are refused, and campaign audiences leave the person out.
2. **Check** (after the mark, so a submission that got in first is seen): an open case refuses
   the erasure and the mark is lifted again.
3. **Steps**: sessions revoked, then each domain's `personal_data.erase` in order, the account
   last. Each finished step is recorded in `personal_data_erasures`, so a process that dies part
   way leaves a record that a later `deleteMyAccount` or `zsb worker` (`finish_erasures`) picks
   up where it stopped. Every step is idempotent.
4. **Sweep**: a request that passed the guard just before the mark (or trusted a session another
   process still had cached) may write after the steps ran. No such request can still be running
   once the session cache and the request's database budget have passed, so the worker runs every
   domain's step once more after `sweep_delay` (an open case found then is withdrawn) and only
   then drops the phone's blind index from the record.

The record keeps the erased id (a pseudonym no document resolves) and the times; it is what
lets the worker finish the job, like the audit event `privacy.account_erased`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, ReturnDocument

from app.audit import AuditEvent
from app.context import AppState
from app.db import CollectionIndexes
from app.errors import DomainError
from applications import personal_data as applications_data
from auth import personal_data as auth_data
from auth.service import SESSION_CHECK_TTL
from electronic_cards import personal_data as cards_data
from notifications import personal_data as notifications_data

log = logging.getLogger(__name__)

ERASURES = "personal_data_erasures"
INDEXES = [
    CollectionIndexes(
        ERASURES,
        [
            IndexModel([("finished_at", ASCENDING), ("started_at", ASCENDING)]),
            IndexModel([("swept_at", ASCENDING), ("finished_at", ASCENDING)]),
        ],
    )
]
STALLED_AFTER = timedelta(minutes=1)  # an erasure takes well under a second when it runs


def sweep_delay(state: AppState) -> timedelta:
    """After this, no request that passed the guard before the mark can still write: a session
    cache entry lives `SESSION_CHECK_TTL`, a request's database work its budget."""
    budget = state.settings.db_request_timeout_seconds
    return timedelta(seconds=SESSION_CHECK_TTL + budget + 15)


@dataclass
class Erasure:
    user_id: ObjectId
    started_at: datetime
    roles: tuple[str, ...]
    phone_keys: list[str]
    checked: bool = False
    steps_done: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Erasure:
        return cls(
            user_id=doc["_id"],
            started_at=doc["started_at"],
            roles=tuple(doc.get("roles", ())),
            phone_keys=list(doc.get("phone_keys", [])),
            checked=doc.get("checked_at") is not None,
            steps_done=list(doc.get("steps_done", [])),
            counts=dict(doc.get("counts", {})),
        )


Step = Callable[[AppState, Erasure, datetime], Awaitable[dict[str, int]]]


async def _notifications(state: AppState, e: Erasure, now: datetime) -> dict[str, int]:
    return await notifications_data.erase(state.db, e.user_id, now)


async def _cards(state: AppState, e: Erasure, now: datetime) -> dict[str, int]:
    return await cards_data.erase(state.db, e.user_id, now)


async def _applications(state: AppState, e: Erasure, now: datetime) -> dict[str, int]:
    return await applications_data.erase(state.db, e.user_id, now, e.phone_keys)


async def _auth(state: AppState, e: Erasure, now: datetime) -> dict[str, int]:
    return await auth_data.erase(state.auth_service(), e.user_id, now)


# The account goes last: until then a failure leaves something a repeat can find.
STEPS: tuple[tuple[str, Step], ...] = (
    ("notifications", _notifications),
    ("cards", _cards),
    ("applications", _applications),
    ("auth", _auth),
)


async def begin(
    state: AppState, user_id: ObjectId, roles: tuple[str, ...], phone_keys: list[str], now: datetime
) -> Erasure | None:
    """Mark the account and open (or find) its record; None if the account is already gone."""
    started = await state.auth_service().users.begin_erasure(user_id, now)
    if started is None:
        return None
    doc = await state.db[ERASURES].find_one_and_update(
        {"_id": user_id},
        {
            "$setOnInsert": {
                "started_at": started,
                "roles": list(roles),
                "phone_keys": phone_keys,
                "steps_done": [],
                "counts": {},
                "checked_at": None,
                "finished_at": None,
                "swept_at": None,
            }
        },
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:  # cannot happen with upsert=True and AFTER; keeps the type honest
        raise RuntimeError("erasure upsert returned no document")
    return Erasure.from_document(doc)


async def check(state: AppState, erasure: Erasure, now: datetime) -> None:
    """Refuse (and lift the mark) while a case is open; runs after the mark (see module doc)."""
    if erasure.checked:
        return
    try:
        await applications_data.check_erasable(state.db, erasure.user_id)
    except DomainError:
        # The mark first, then the record: a process dying in between leaves a record the
        # worker resumes (re-checks, refuses, lifts again: idempotent), never a marked account
        # with no record, which nothing would ever lift (every mutation and sign-in refused).
        await state.auth_service().users.cancel_erasure(erasure.user_id, erasure.started_at)
        await state.db[ERASURES].delete_one({"_id": erasure.user_id, "finished_at": None})
        raise
    await state.db[ERASURES].update_one({"_id": erasure.user_id}, {"$set": {"checked_at": now}})
    erasure.checked = True


async def record_step(state: AppState, erasure: Erasure, name: str, counts: dict[str, int]) -> None:
    erasure.counts.update(counts)
    erasure.steps_done.append(name)
    await state.db[ERASURES].update_one(
        {"_id": erasure.user_id},
        {"$addToSet": {"steps_done": name}, "$set": {f"counts.{k}": v for k, v in counts.items()}},
    )


async def run(state: AppState, erasure: Erasure, now: datetime) -> dict[str, int]:
    """The steps not yet done, in order, each recorded; then the audit event, once."""
    auth = state.auth_service()
    # Sessions end before anything is deleted; other processes within their cache time, and the
    # guard refuses their writes meanwhile.
    await auth.store.revoke_user_sessions(erasure.user_id, now, "account-erased")
    auth.sessions.forget_user(erasure.user_id)
    for name, step in STEPS:
        if name in erasure.steps_done:
            continue
        await record_step(state, erasure, name, await step(state, erasure, now))
    finished = await state.db[ERASURES].update_one(
        {"_id": erasure.user_id, "finished_at": None}, {"$set": {"finished_at": now}}
    )
    if finished.modified_count:  # whichever run finished it records it
        await state.audit().record(
            AuditEvent(
                "privacy.account_erased",
                erasure.user_id,  # a pseudonym from now on: no document names it any more
                erasure.roles,
                details=erasure.counts,
            )
        )
    return erasure.counts


async def sweep(state: AppState, erasure: Erasure, now: datetime) -> dict[str, int]:
    """Every domain's step again, for what a request in flight wrote after the first run.

    Without the phone key: grants naming the number as agent were revoked by the first run, and
    any made since name the number's next holder."""
    erasure.phone_keys = []
    counts: dict[str, int] = {}
    for _, step in STEPS:
        counts.update({k: v for k, v in (await step(state, erasure, now)).items() if v})
    await state.db[ERASURES].update_one(
        {"_id": erasure.user_id}, {"$set": {"swept_at": now}, "$unset": {"phone_keys": ""}}
    )
    if counts:
        log.warning("erasure sweep removed late writes", extra={"counts": counts})
    return counts


async def finish_erasures(state: AppState, now: datetime) -> dict[str, int]:
    """`zsb worker` housekeeping: resume stalled erasures, sweep finished ones once."""
    done = {"erasures_resumed": 0, "erasures_swept": 0}
    stalled = state.db[ERASURES].find(
        {"finished_at": None, "started_at": {"$lt": now - STALLED_AFTER}}
    )
    for doc in await stalled.to_list(100):
        erasure = Erasure.from_document(doc)
        try:
            await check(state, erasure, now)
        except DomainError:
            log.info("stalled erasure refused on resume", extra={"user": str(erasure.user_id)})
            continue
        await run(state, erasure, now)
        done["erasures_resumed"] += 1
    due = (
        state.db[ERASURES]
        .find({"swept_at": None, "finished_at": {"$ne": None, "$lt": now - sweep_delay(state)}})
        .sort("finished_at", ASCENDING)
    )
    for doc in await due.to_list(100):
        await sweep(state, Erasure.from_document(doc), now)
        done["erasures_swept"] += 1
    return done
