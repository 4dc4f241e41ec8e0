"""Two processes starting at once on a database that still has a retired index both start
(the second drop finds it gone: IndexNotFound is not an error there)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo.asynchronous.collection import AsyncCollection

from app.db import MIGRATIONS, ensure_indexes
from applications.store import APPLICATIONS
from tests.factories import Api


async def test_two_processes_starting_at_once_both_start(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = api.state.db
    await db[APPLICATIONS].create_index(
        [("status", 1), ("department_code", 1), ("finished_at", 1)],
        name="awaiting_shipment",
        partialFilterExpression={"delivery.method": "POST"},
    )
    await db[MIGRATIONS].delete_many({})
    # Two processes: each reads the index list, then drops what is retired. Both reads land
    # before either drop (one round trip apart in real life; made certain here).
    real = AsyncCollection.index_information
    both_read = asyncio.Barrier(2)

    async def listed(self: AsyncCollection[Any]) -> Any:
        found = await real(self)
        if self.name == APPLICATIONS:
            await both_read.wait()
        return found

    monkeypatch.setattr(AsyncCollection, "index_information", listed)
    results = await asyncio.gather(ensure_indexes(db), ensure_indexes(db), return_exceptions=True)
    assert [repr(r) for r in results if isinstance(r, BaseException)] == []
