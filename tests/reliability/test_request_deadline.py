"""The per-request database deadline bounds requests, not what they start: the inbox change
stream a first subscriber opens lives on after that request's budget has run out."""

from __future__ import annotations

import asyncio

import pymongo

from notifications import service as notifications_service
from notifications.models import InboxMessage
from tests.factories import Api, create_demo_user


async def test_the_inbox_hub_outlives_the_deadline_of_the_request_that_started_it(
    api: Api,
) -> None:
    user = await create_demo_user(api.state, "13800000001")
    hub = api.state.inbox_hub

    async def first_message() -> InboxMessage:
        with pymongo.timeout(0.3):  # as DatabaseDeadline sets it around an HTTP request
            async for message in hub.subscribe(api.state.db, user.id):
                return message
        raise AssertionError("the subscription ended")

    listening = asyncio.create_task(first_message())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not hub.ready_for(user.id):
        assert loop.time() < deadline, "the change stream did not open"
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)  # the request's budget runs out while the stream waits
    sent = await notifications_service.notify(
        api.state.db,
        user.id,
        "APPLICATION_STATUS_CHANGED",
        {"matter_name": "优待证", "receipt_number": "1", "status": "已办结", "application_id": "A"},
    )
    received = await asyncio.wait_for(listening, 10)
    assert sent is not None
    assert received.id == sent.id
