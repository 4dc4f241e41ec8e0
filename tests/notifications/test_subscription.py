"""inboxEvents over a real WebSocket on a real uvicorn: a new message arrives within a second,
whichever process wrote it, and only to its owner."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from websockets.asyncio.client import ClientConnection, connect

from app.main import create_app
from notifications import service as notifications_service
from tests.app.test_websocket import PROTOCOL, _init, _token, _ws_url
from tests.conftest import ThreadedServer, make_settings

SUBSCRIBE = "subscription { inboxEvents { id title category deepLink readAt } }"


@pytest.fixture
def server(mongo_uri: str, tmp_path: Path) -> Iterator[ThreadedServer]:
    settings = make_settings(mongo_uri, tmp_path, demo_data=True)
    with ThreadedServer(create_app(settings), lifespan="on") as running:
        yield running
    client: MongoClient[dict[str, Any]]
    with MongoClient(mongo_uri) as client:
        client.drop_database(settings.database_name)


@pytest.fixture
async def db(server: ThreadedServer) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """Our own connection, as a worker process would have: not the server's client."""
    settings = server.app.state.zsb.settings
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    yield client[settings.database_name]
    await client.close()


async def _user_id(db: AsyncDatabase[dict[str, Any]], phone: str) -> ObjectId:
    user = await db["users"].find_one({"phone": phone})
    assert user is not None
    return ObjectId(user["_id"])


async def _subscribed(ws: ClientConnection, server: ThreadedServer, user_id: ObjectId) -> None:
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    hub = server.app.state.zsb.inbox_hub
    deadline = time.monotonic() + 10
    while not hub.ready_for(user_id):  # the change stream is open and we are listed
        assert time.monotonic() < deadline, "subscription never became ready"
        await asyncio.sleep(0.01)


async def test_a_new_message_reaches_its_owner_within_a_second(
    server: ThreadedServer, db: AsyncDatabase[dict[str, Any]]
) -> None:
    owner_token, other_token = (
        await _token(server, "13800000001"),
        await _token(server, "13800000002"),
    )
    owner, other = await _user_id(db, "13800000001"), await _user_id(db, "13800000002")
    async with (
        connect(_ws_url(server), subprotocols=[PROTOCOL]) as ws,  # type: ignore[list-item]
        connect(_ws_url(server), subprotocols=[PROTOCOL]) as bystander,  # type: ignore[list-item]
    ):
        assert (await _init(ws, {"authorization": f"Bearer {owner_token}"}))[
            "type"
        ] == "connection_ack"
        assert (await _init(bystander, {"authorization": f"Bearer {other_token}"}))[
            "type"
        ] == "connection_ack"
        await _subscribed(ws, server, owner)
        await _subscribed(bystander, server, other)

        started = time.monotonic()
        await notifications_service.notify(
            db,
            owner,
            "LICENCE_CHECKED",
            {
                "licence_name": "驾驶证",
                "checked_at": "10:02",
                "verifier": "交警支队",
                "licence_id": "l9",
            },
        )
        event = json.loads(await asyncio.wait_for(ws.recv(), timeout=1.0))
        assert time.monotonic() - started < 1.0
        assert event["type"] == "next"
        node = event["payload"]["data"]["inboxEvents"]
        assert (node["title"], node["category"], node["deepLink"]) == (
            "您的证照被查验",
            "LICENCE",
            "zsb://licences/l9",
        )
        with pytest.raises(TimeoutError):  # the other citizen hears nothing
            await asyncio.wait_for(bystander.recv(), timeout=0.3)


async def test_a_subscription_needs_a_signed_in_user(server: ThreadedServer) -> None:
    async with connect(_ws_url(server), subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        assert (await _init(ws, {}))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
        message = json.loads(await ws.recv())
        assert message["payload"]["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
