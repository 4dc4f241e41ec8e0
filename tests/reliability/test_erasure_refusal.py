"""A refused erasure interrupted part way never locks the person out (review 3, finding 7).

The refusal lifts the account's `erasing_at` mark and deletes the erasure record. A real fault
(`failCommand` on the second of those writes) stands in for a process dying between the two:
whatever is left, the account works again or the worker can resume the record and lift it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.errors import OperationFailure

from app import erasures
from tests.applications.delivery_helpers import submit_veteran
from tests.factories import Api
from tests.reliability.conftest import FailPoints


@pytest.fixture
def api(drill_api: Api) -> Api:
    return drill_api


async def test_a_refusal_cut_short_leaves_the_account_recoverable(
    api: Api, citizen: str, fail_points: FailPoints
) -> None:
    await submit_veteran(api, citizen, uuid.uuid4().hex)  # an open case: the erasure is refused
    user = await api.state.db["users"].find_one({"phone_index": {"$exists": True}})
    assert user is not None
    now = datetime.now(UTC)
    erasure = await erasures.begin(api.state, user["_id"], ("CITIZEN",), [], now)
    assert erasure is not None
    # The refusal's first write lands and its second fails (one lifts the mark, an update;
    # the other removes the record, a delete): as if the process had died between them.
    await fail_points.arm({"skip": 1, "times": 1_000_000}, ["update", "delete"], errorCode=2)
    with pytest.raises(OperationFailure):
        await erasures.check(api.state, erasure, now)
    await fail_points.off()

    users = api.state.auth_service().users
    record = await api.state.db[erasures.ERASURES].find_one({"_id": user["_id"]})
    assert await users.is_active(user["_id"]) or record is not None  # never stuck
    # The worker's resume finds the record, refuses again and lifts the mark.
    later = now + erasures.STALLED_AFTER + timedelta(seconds=1)
    await erasures.finish_erasures(api.state, later)
    assert await users.is_active(user["_id"])
    assert await api.state.db[erasures.ERASURES].count_documents({}) == 0
