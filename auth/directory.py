"""Who matches a description of citizens: the user directory other domains may query.

Campaign targeting (notifications) asks here instead of reading `users`: the collection, its
sealed phones and what counts as a 法人 account stay auth's business.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from app import sealing
from app.db import Document
from app.keyring import Keyring
from auth.models import CitizenFilter
from auth.user_store import UserQuery


def phone_keys(keyring: Keyring, phones: Iterable[str]) -> tuple[str, ...]:
    """How a list of phones is kept and matched without storing the phones themselves."""
    return tuple(sealing.blind_index(keyring.phone_index, p) for p in phones)


def phone_key_candidates(keyring: Keyring, phones: Iterable[str]) -> list[str]:
    """Each phone's blind index under every key generation the process reads (the current one
    first): during a master-secret rotation, records not yet resealed carry the older one."""
    keys = keyring.all("phone_index")
    return list(dict.fromkeys(k for p in phones for k in sealing.blind_indexes(keys, p)))


__all__ = [
    "CitizenFilter",
    "UserDirectory",
    "phone_key_candidates",
    "phone_keys",
    "remembered_caller",
]

# The request's caller as the erasure guard read it (app/erasure_guard.py): (user id, the joined
# collection, its documents). A notice to the caller in the same request reads its recipient's
# state and preferences from here instead of the database again: the guard's read is the
# authoritative "active at write time" check, and what an erasure starting after it misses is
# removed by the erasure's sweep.
_CALLER: ContextVar[tuple[ObjectId, str, list[Document]] | None] = ContextVar(
    "zsb_caller_account", default=None
)


@contextmanager
def remembered_caller(user_id: ObjectId, joined: str, documents: list[Document]) -> Iterator[None]:
    """Within the block, `active_joined` of the caller alone (collection `joined`) is answered
    from the guard's read."""
    token = _CALLER.set((user_id, joined, documents))
    try:
        yield
    finally:
        _CALLER.reset(token)


class UserDirectory:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._queries = UserQuery(db)

    async def count_citizens(self, where: CitizenFilter) -> int:
        return await self._queries.count(where)

    async def citizen_ids(
        self, where: CitizenFilter, after: ObjectId | None, limit: int
    ) -> list[ObjectId]:
        """The next `limit` matching user ids in `_id` order (keyset: resumable after a crash)."""
        return await self._queries.ids(where, after, limit)

    async def active_ids(self, user_ids: Sequence[ObjectId]) -> set[ObjectId]:
        """Who of these may still be written to: the account exists and is not being erased."""
        return await self._queries.active(user_ids)

    async def active_holder(self, phone_keys: Sequence[str]) -> ObjectId | None:
        """The active account holding the phone with one of these blind indexes (the phone's
        index under each key generation: `phone_key_candidates`)."""
        return await self._queries.active_holder(phone_keys)

    async def active_joined(
        self, user_ids: Sequence[ObjectId], joined: str
    ) -> dict[ObjectId, list[Document]]:
        """`active_ids` and the caller's own per-user documents (collection `joined`, keyed by
        the user's id) in one command: for a hot path that reads both. The request's caller
        alone is answered from the erasure guard's read (`remembered_caller`)."""
        known = _CALLER.get()
        if known is not None and list(user_ids) == [known[0]] and joined == known[1]:
            return {known[0]: known[2]}
        return await self._queries.active_joined(user_ids, joined)

    async def caller_account(self, user_id: ObjectId, joined: str) -> list[Document] | None:
        """The caller's per-user documents of `joined` if the account is active (None: gone or
        being erased), from the database: the erasure guard's read."""
        return (await self._queries.active_joined([user_id], joined)).get(user_id)
