"""What the cheaper submission path must still guarantee: a retry is answered by the accepted
application (even when it no longer passes the checks) without touching its evidence, and
receipt serials handed out from per-process blocks never repeat."""

from __future__ import annotations

import asyncio

from bson import ObjectId
from pymongo import AsyncMongoClient

from applications.store import RECEIPT_BLOCK, ApplicationStore
from tests.applications.conftest import SUBMIT, business_input, errors
from tests.factories import Api


async def test_a_retry_is_answered_by_the_accepted_application(api: Api, citizen: str) -> None:
    sub = business_input("retry-cost-0001")
    first = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert first["userErrors"] == []
    app_id = first["application"]["id"]
    db = api.state.db
    uploads = await db["material_uploads"].find({}).to_list(None)
    attached = {u["_id"]: list(u["attached_to"]) for u in uploads}
    assert all(len(a) == 1 for a in attached.values())

    again = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert again["userErrors"] == []
    assert again["application"]["id"] == app_id
    # The retry's own attach was undone: the uploads are the accepted application's only.
    after = await db["material_uploads"].find({}).to_list(None)
    assert {u["_id"]: list(u["attached_to"]) for u in after} == attached

    # A retry that would now be refused (here: a bad phone) still gets what was accepted.
    broken = business_input("retry-cost-0001", phone="12345")
    late = (await api.data(SUBMIT, {"input": broken}, citizen))["submitApplication"]
    assert late["userErrors"] == []
    assert late["application"]["id"] == app_id
    # Without an accepted application the same input is refused, nothing written.
    fresh = (
        await api.data(SUBMIT, {"input": business_input("retry-cost-0002", phone="12345")}, citizen)
    )["submitApplication"]
    assert errors(fresh) == [("form.phone", "INVALID_PHONE")]
    assert fresh["application"] is None
    assert await db["applications"].count_documents({}) == 1


async def test_receipt_serials_from_two_processes_never_repeat(mongo_uri: str) -> None:
    # Two clients stand for two API processes, each reserving its own blocks.
    clients = [AsyncMongoClient[dict[str, object]](mongo_uri, tz_aware=True) for _ in range(2)]
    name = f"receipts_{ObjectId()}"
    try:
        stores = [ApplicationStore(c[name]) for c in clients]
        draws = [stores[i % 2].next_receipt_serial("20260101") for i in range(3 * RECEIPT_BLOCK)]
        serials = await asyncio.gather(*draws)
        assert len(set(serials)) == len(serials)
        counter = await clients[0][name]["application_counters"].find_one(
            {"_id": "receipt:20260101"}
        )
        assert counter is not None
        reserved = int(str(counter["seq"]))
        # Blocks, not one write per serial, and one reservation at a time per process: two
        # blocks per client (24 draws each), give or take one lost to the first-of-the-day
        # upsert race between them (48 without the lock).
        assert 4 * RECEIPT_BLOCK <= reserved <= 6 * RECEIPT_BLOCK
        assert max(serials) <= reserved
        # Another day starts its own counter.
        assert await stores[0].next_receipt_serial("20260102") == 1
    finally:
        await clients[0].drop_database(name)
        for c in clients:
            await c.close()
