"""The wallet's hot queries are index scans (STYLE: every query has an index a test can see)."""

from __future__ import annotations

from bson import ObjectId

from tests.factories import Api


async def test_hot_queries_use_indexes(api: Api) -> None:
    db = api.state.db
    plans = {
        "usage records of a licence": await db["licence_usage_records"]
        .find({"licence_id": ObjectId()})
        .sort([("at", -1), ("_id", -1)])
        .explain(),
        "wallet of a holder": await db["licences"]
        .find({"holder_id": ObjectId()})
        .sort("created_at", 1)
        .explain(),
        "licence by status slot": await db["licences"]
        .find({"status_list_id": "1", "status_index": 7})
        .explain(),
        "non-valid entries of a list": await db["licences"]
        .find({"status_list_id": "1", "status": {"$in": ["REVOKED", "SUSPENDED"]}})
        .explain(),
        "token by handle": await db["licence_qr_tokens"].find({"ref": b"x" * 12}).explain(),
    }
    for name, plan in plans.items():
        assert "IXSCAN" in str(plan), name
        assert "COLLSCAN" not in str(plan), name
    # The check can fail: an unindexed field is a collection scan.
    control = await db["licences"].find({"holder_name": "张三明"}).explain()
    assert "COLLSCAN" in str(control)
