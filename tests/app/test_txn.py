"""commit_together: all of a batch or none, a duplicate key named by its position, and the loser
of two concurrent transactions retried (not failed) until the winner's commit decides."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient, InsertOne, UpdateOne

from app.db import Document
from app.txn import DuplicateKeyAt, commit_together


@pytest.fixture
async def client(mongo_uri: str) -> AsyncIterator[AsyncMongoClient[Document]]:
    c: AsyncMongoClient[Document] = AsyncMongoClient(mongo_uri, tz_aware=True)
    yield c
    await c.close()


async def test_a_duplicate_key_aborts_the_whole_batch(client: AsyncMongoClient[Document]) -> None:
    db = client[f"txn_{uuid.uuid4().hex[:8]}"]
    await db["a"].insert_one({"_id": "taken"})
    ns = db.name
    with pytest.raises(DuplicateKeyAt) as caught:
        await commit_together(
            client,
            [
                InsertOne({"_id": "fresh"}, namespace=f"{ns}.b"),
                UpdateOne({"_id": "c"}, {"$inc": {"n": 1}}, upsert=True, namespace=f"{ns}.c"),
                InsertOne({"_id": "taken"}, namespace=f"{ns}.a"),
            ],
        )
    assert caught.value.index == 2
    assert await db["b"].count_documents({}) == 0  # written before the failure, rolled back
    assert await db["c"].count_documents({}) == 0
    await client.drop_database(db.name)


async def test_a_batch_meeting_an_open_transaction_waits_for_its_outcome(
    client: AsyncMongoClient[Document],
) -> None:
    db = client[f"txn_{uuid.uuid4().hex[:8]}"]
    ns = db.name
    await db.create_collection("a")
    await db.create_collection("b")
    async with client.start_session(causal_consistency=False) as holder:
        await holder.start_transaction()
        await db["a"].insert_one({"_id": "key", "tag": "first"}, session=holder)
        batch = asyncio.create_task(
            commit_together(
                client,
                [
                    InsertOne({"_id": "key", "tag": "second"}, namespace=f"{ns}.a"),
                    InsertOne({"tag": "second"}, namespace=f"{ns}.b"),
                ],
            )
        )
        # The batch conflicts with the open transaction (WriteConflict) and is retried —
        # without re-raising pymongo's labelled inner error it failed at once instead.
        await asyncio.wait({batch}, timeout=0.5)
        assert not batch.done()
        await holder.commit_transaction()
    with pytest.raises(DuplicateKeyAt) as caught:
        await batch
    assert caught.value.index == 0
    assert await db["b"].count_documents({}) == 0
    await client.drop_database(db.name)


async def test_concurrent_batches_on_one_key_one_wins_the_other_sees_the_duplicate(
    client: AsyncMongoClient[Document],
) -> None:
    db = client[f"txn_{uuid.uuid4().hex[:8]}"]
    ns = db.name
    await db.create_collection("a")
    await db.create_collection("b")

    async def one(tag: str) -> str:
        try:
            await commit_together(
                client,
                [
                    InsertOne({"_id": "key", "tag": tag}, namespace=f"{ns}.a"),
                    InsertOne({"tag": tag}, namespace=f"{ns}.b"),
                ],
            )
        except DuplicateKeyAt as exc:
            return f"lost at {exc.index}"
        return "won"

    results = await asyncio.gather(*(one(str(i)) for i in range(6)))
    # Exactly one winner, and no loser left a document in the other collection.
    assert sorted(results) == ["lost at 0"] * 5 + ["won"]
    winner = await db["a"].find_one({"_id": "key"})
    assert winner is not None
    assert [d["tag"] async for d in db["b"].find()] == [winner["tag"]]
    await client.drop_database(db.name)
