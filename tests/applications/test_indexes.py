"""Every list and lookup of 申办 is served by an index (the winning plan has an IXSCAN)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId

from app.db import ensure_indexes
from tests.factories import Api


def index_names(plan: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(plan, dict):
        if plan.get("stage") == "IXSCAN":
            found.add(plan["indexName"])
        for value in plan.values():
            found |= index_names(value)
    elif isinstance(plan, list):
        for item in plan:
            found |= index_names(item)
    return found


@pytest.mark.parametrize(
    ("query", "sort", "index"),
    [
        ({"applicant_id": "A"}, [("created_at", -1), ("_id", -1)], "applicant_recent"),
        (
            {"applicant_id": "A", "status": "SUBMITTED"},
            [("created_at", -1), ("_id", -1)],
            "applicant_status_recent",
        ),
        (
            {"applicant_id": "A", "idempotency_key": "key-00000001"},
            None,
            "applicant_idempotency_key_v2",
        ),
        (
            {"revocation_effects_pending": True},
            None,
            "revocation_effects_pending",
        ),
    ],
)
async def test_queries_use_their_index(
    api: Api, query: dict[str, Any], sort: list[tuple[str, int]] | None, index: str
) -> None:
    db = api.state.db
    await ensure_indexes(db)
    applicant = ObjectId()
    await db["applications"].insert_many(
        [
            {
                "applicant_id": applicant,
                "idempotency_key": f"key-{i:08d}",
                "status": "SUBMITTED",
                "department_code": "370202-XZSPJ",
                "created_at": i,
                "due_at": i,
            }
            for i in range(30)
        ]
    )
    filter_ = {k: (applicant if v == "A" else v) for k, v in query.items()}
    cursor = db["applications"].find(filter_)
    if sort:
        cursor = cursor.sort(sort)
    plan = await cursor.limit(5).explain()
    # An applicant's lists may be served by either index led by applicant_id (planners differ).
    used = index_names(plan["queryPlanner"]["winningPlan"])
    assert index in used or (index.startswith("applicant") and used), used


async def test_the_daily_feedback_limits_are_counted_over_indexes(api: Api) -> None:
    """An agent's tickets over the sparse agent_recent_v2 (a partial index was not used by the
    planner: a scan of every ticket per agent complaint), the principal's own over
    reporter_recent (their filter on `agent_id` is applied in Python, not in the query)."""
    from applications.flow_store import TICKETS

    db = api.state.db
    await ensure_indexes(db)
    since = {"$gte": datetime.now(UTC) - timedelta(days=1)}
    for query, index in (
        ({"agent_id": ObjectId(), "opened_at": since}, "agent_recent_v2"),
        ({"reporter_id": ObjectId(), "opened_at": since}, "reporter_recent"),
    ):
        plan = await db[TICKETS].find(query).explain()
        assert index in index_names(plan["queryPlanner"]["winningPlan"]), (query, plan)
