"""The organisation named on a verifier's usage records, cached in-process for a short while.

Every verification writes the verifier's organisation (code and name) into the 用证记录; the
account's organisation is an administrator's setting that changes rarely, while one checkpoint
account scans many codes a minute. So the lookup is kept per process for `TTL` seconds: a renamed
organisation shows its new name on records at most that late. Nothing is authorised from this
cache — who may verify what comes from the viewer (the access token's roles and scenes), read
fresh on every request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from bson import ObjectId

from auth.models import Organization, User

TTL = 30.0  # seconds
MAX_ENTRIES = 10_000  # a bound on memory: cleared when full (a few thousand checkpoints at most)

_cache: dict[ObjectId, tuple[float, Organization | None]] = {}


async def organization_of(
    user_id: ObjectId, load: Callable[[ObjectId], Awaitable[User | None]]
) -> Organization | None:
    now = time.monotonic()
    hit = _cache.get(user_id)
    if hit is not None and now - hit[0] < TTL:
        return hit[1]
    user = await load(user_id)
    org = user.organization if user else None
    if len(_cache) >= MAX_ENTRIES:
        _cache.clear()
    _cache[user_id] = (now, org)
    return org


def forget(user_id: ObjectId | None = None) -> None:
    """Drop one account's entry (or all): for tests and an administrator's change."""
    if user_id is None:
        _cache.clear()
    else:
        _cache.pop(user_id, None)
