"""待邮寄: the queue is the cases flagged `awaiting_shipment` (approved, POST, not shipped), oldest
approval first; a shipment, a revocation or an erasure takes a case out of it, and the partial
index holds only the queue. Databases from before the flag are backfilled once at start-up,
and the first version of the index (partial on `delivery.method`) is dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId
from pymongo import ASCENDING

from app import pagination
from app.db import MIGRATIONS, ensure_indexes
from app.ids import object_id_from_global
from applications import personal_data, shipping
from applications.departments import CITY_BUREAU
from applications.flow_store import backfill_awaiting_shipment
from applications.store import APPLICATIONS
from tests.applications.delivery_helpers import ADDRESS, SHIP, act, approved_veteran
from tests.applications.test_followup import REVOKE
from tests.applications.test_indexes import index_names
from tests.factories import Api

POST = {"method": "POST", "address": ADDRESS}
QUEUE = "{ shippingQueue { nodes { id } } }"
DEPARTMENT = CITY_BUREAU  # the clerk fixture's department


async def _queue(api: Api, clerk: str) -> list[str]:
    return [n["id"] for n in (await api.data(QUEUE, token=clerk))["shippingQueue"]["nodes"]]


async def _flagged(api: Api) -> set[ObjectId]:
    found = api.state.db[APPLICATIONS].find({"awaiting_shipment": {"$exists": True}}, {"_id": 1})
    return {d["_id"] async for d in found}


def _oid(app_id: str) -> ObjectId:
    return object_id_from_global(app_id, "Application")


async def test_the_queue_is_the_flagged_cases_oldest_first_and_each_way_out_leaves_it(
    api: Api, citizen: str, clerk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third, fourth = [
        await approved_veteran(api, citizen, clerk, f"queue-000{i}", POST) for i in range(4)
    ]
    electronic = await approved_veteran(api, citizen, clerk, "queue-elec", None)
    db = api.state.db
    # Oldest approval first, whatever the order of the ids: the first case approved last.
    later = datetime.now(UTC) + timedelta(minutes=5)
    await db[APPLICATIONS].update_one({"_id": _oid(first)}, {"$set": {"finished_at": later}})
    assert await _queue(api, clerk) == [second, third, fourth, first]
    assert await _flagged(api) == {_oid(a) for a in (first, second, third, fourth)}
    assert _oid(electronic) not in await _flagged(api)

    # Shipped: out of the queue, the flag gone (the index no longer holds it).
    shipped = await act(
        api, SHIP, clerk, applicationId=third, carrier="EMS", trackingNumber="EA123456785CN"
    )
    assert shipped["userErrors"] == []
    # Revoked (你失信、我撤销): nothing to post any more.
    revoked = await act(api, REVOKE, clerk, applicationId=second, reason="承诺不实")
    assert revoked["userErrors"] == []
    assert await _queue(api, clerk) == [fourth, first]
    # Erased (the account went after the approval slipped past the erasure's check): no address.
    await personal_data.erase(db, await _applicant(api, fourth), datetime.now(UTC), None)
    assert await _queue(api, clerk) == []
    assert await _flagged(api) == set()

    # The query the desk sends is served by the partial index: the planner does not match its
    # filter to the index's by itself (it scanned the collection), so the desk names it.
    sent: list[tuple[Any, Any]] = []

    async def spy(collection: Any, query: Any, sort: Any, *args: Any, **kw: Any) -> Any:
        sent.append((query, kw.get("hint")))
        return await pagination.paginate(collection, query, sort, *args, **kw)

    monkeypatch.setattr(shipping, "paginate", spy)
    assert await _queue(api, clerk) == []
    ((query, hint),) = sent
    assert hint == "awaiting_shipment_v2"
    plan = await (
        db[APPLICATIONS]
        .find(query)
        .sort([("finished_at", ASCENDING), ("_id", ASCENDING)])
        .hint(hint)
        .explain()
    )
    assert "awaiting_shipment_v2" in index_names(plan["queryPlanner"]["winningPlan"])


async def _applicant(api: Api, app_id: str) -> ObjectId:
    doc = await api.state.db[APPLICATIONS].find_one({"_id": _oid(app_id)})
    assert doc is not None
    return ObjectId(doc["applicant_id"])


def _old_case(**changes: Any) -> dict[str, Any]:
    """A case as the release before the flag wrote it: approved, POST, not shipped."""
    doc: dict[str, Any] = {
        "_id": ObjectId(),
        "applicant_id": ObjectId(),
        "idempotency_key": str(ObjectId()),
        "status": "APPROVED",
        "rev": 4,
        "matter_code": "3702021100253",
        "matter_name": "退役军人优待证申领",
        "situation_code": None,
        "committed_days": 5,
        "department_code": DEPARTMENT,
        "department_name": "青岛市行政审批服务局",
        "created_at": datetime.now(UTC) - timedelta(days=3),
        "finished_at": datetime.now(UTC) - timedelta(days=1),
        "timeline": [],
        "delivery": {"method": "POST", "address": {"masked": True}, "shipment": None},
    }
    for path, value in changes.items():
        holder = doc
        *parents, leaf = path.split("__")
        for part in parents:
            holder = holder[part]
        holder[leaf] = value
    return doc


async def test_a_database_from_before_the_flag_is_backfilled_once_and_the_old_index_dropped(
    api: Api, clerk: str
) -> None:
    db = api.state.db
    waiting = _old_case()
    others = [
        _old_case(delivery__shipment={"carrier": "EMS", "tracking_number": "EA123456785CN"}),
        _old_case(delivery__method="PICKUP"),
        _old_case(status="REVOKED"),
        _old_case(applicant_erased_at=datetime.now(UTC), delivery__address=None),
    ]
    await db[APPLICATIONS].insert_many([waiting, *others])
    # The old release's index, and no marker (this database never had the migration).
    await db[APPLICATIONS].create_index(
        [("status", 1), ("department_code", 1), ("finished_at", 1)],
        name="awaiting_shipment",
        partialFilterExpression={"delivery.method": "POST"},
    )
    await db[MIGRATIONS].delete_many({})
    assert await _queue(api, clerk) == []  # before the backfill: not in the queue

    await ensure_indexes(db)  # what every process runs at start-up

    assert await _flagged(api) == {waiting["_id"]}
    [listed] = await _queue(api, clerk)
    assert _oid(listed) == waiting["_id"]
    indexes = await db[APPLICATIONS].index_information()
    assert "awaiting_shipment" not in indexes
    assert indexes["awaiting_shipment_v2"]["partialFilterExpression"] == {"awaiting_shipment": True}
    marker = await db[MIGRATIONS].find_one({"_id": "applications.awaiting_shipment"})
    assert marker is not None
    assert marker["changed"] == 1

    # Idempotent: again (a second process, a crash before the marker) changes nothing, and a
    # start-up with the marker in place does not run it.
    assert await backfill_awaiting_shipment(db) == 0
    await db[APPLICATIONS].insert_one(_old_case())
    await ensure_indexes(db)
    assert len(await _flagged(api)) == 1
