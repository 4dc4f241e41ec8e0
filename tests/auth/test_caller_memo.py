"""The erasure guard's read of the caller serves a notice to the caller in the same request
(one read fewer per submission), and only there: inside `remembered_caller`, for that user and
that collection; never another user, another collection, or after the block."""

from __future__ import annotations

from auth.directory import UserDirectory, remembered_caller
from notifications.store import PREFERENCES
from tests.factories import Api, create_demo_user


async def test_the_callers_read_is_reused_only_within_its_request(api: Api) -> None:
    db = api.state.db
    caller = await create_demo_user(api.state, "13800000001")
    other = await create_demo_user(api.state, "13800000003")
    await db[PREFERENCES].insert_one({"_id": caller.id, "opted_out": ["POLICY"]})
    directory = UserDirectory(db)
    fresh = await directory.caller_account(caller.id, PREFERENCES)
    assert fresh == [{"_id": caller.id, "opted_out": ["POLICY"]}]
    remembered = [{"_id": caller.id, "opted_out": ["REMEMBERED"]}]  # tells the two reads apart
    with remembered_caller(caller.id, PREFERENCES, remembered):
        assert await directory.active_joined([caller.id], PREFERENCES) == {caller.id: remembered}
        # Anyone else, several users, another collection: from the database.
        assert await directory.active_joined([other.id], PREFERENCES) == {other.id: []}
        both = await directory.active_joined([caller.id, other.id], PREFERENCES)
        assert both == {caller.id: fresh, other.id: []}
        assert await directory.active_joined([caller.id], "elsewhere") == {caller.id: []}
    assert await directory.active_joined([caller.id], PREFERENCES) == {caller.id: fresh}
