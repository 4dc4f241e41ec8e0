"""inboxEvents over a real WebSocket on a real uvicorn: a new message arrives within a second,
whichever process wrote it, and only to its owner."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from websockets.asyncio.client import ClientConnection, connect

from app.keyring import Keyring
from app.main import create_app
from auth.user_store import phone_key
from notifications import service as notifications_service
from notifications.models import Provider
from notifications.providers.fcm import FcmProvider
from notifications.store import NotificationStore
from notifications.worker import Dispatcher
from tests.app.test_websocket import PROTOCOL, _init, _token, _ws_url
from tests.conftest import ThreadedServer, make_settings
from tests.notifications.fcm_standin import FcmStandIn
from tests.notifications.test_campaigns import APPROVE, CREATE, _draft

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


def _keys(server: ThreadedServer) -> Keyring:
    keyring: Keyring = server.app.state.zsb.keyring
    return keyring


async def _user_id(db: AsyncDatabase[dict[str, Any]], phone: str, keyring: Keyring) -> ObjectId:
    user = await db["users"].find_one({"phone_index": phone_key(keyring, phone)})
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
    owner, other = (
        await _user_id(db, "13800000001", _keys(server)),
        await _user_id(db, "13800000002", _keys(server)),
    )
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


async def _gql(server: ThreadedServer, token: str, query: str, variables: dict[str, Any]) -> Any:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {token}"},
        )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


@pytest.mark.parametrize("source", ["status_change", "licence_check", "campaign"])
async def test_each_kind_reaches_inbox_socket_and_fcm(
    server: ThreadedServer,
    db: AsyncDatabase[dict[str, Any]],
    fcm: FcmProvider,
    fcm_server: FcmStandIn,
    source: str,
) -> None:
    """The issue's "done when": a status change, a licence check and an approved campaign."""
    token = await _token(server, "13800000003")
    user_id = await _user_id(db, "13800000003", _keys(server))
    await NotificationStore(db).upsert_device(
        {
            "provider": "FCM",
            "token": "ok-wang-" + "w" * 40,
            "user_id": user_id,
            "platform": "HARMONYOS",
            "app_version": "5.2.0",
            "locale": "zh-CN",
        },
        datetime.now(UTC),
    )
    async with connect(_ws_url(server), subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        assert (await _init(ws, {"authorization": f"Bearer {token}"}))["type"] == "connection_ack"
        await _subscribed(ws, server, user_id)
        if source == "status_change":
            await notifications_service.notify(
                db,
                user_id,
                "APPLICATION_STATUS_CHANGED",
                {
                    "matter_name": "老年人优待证",
                    "receipt_number": "QD9",
                    "status": "已办结",
                    "application_id": "a9",
                },
                key="application:a9:DONE",
            )
            title = "您的办件有新进展"
        elif source == "licence_check":
            await notifications_service.notify(
                db,
                user_id,
                "LICENCE_CHECKED",
                {
                    "licence_name": "老年人优待证",
                    "checked_at": "09:30",
                    "verifier": "青岛地铁",
                    "licence_id": "l3",
                },
            )
            title = "您的证照被查验"
        else:
            creator = await _token(server, "13800000301")
            checker = await _token(server, "13800000302")
            created = await _gql(server, creator, CREATE, _draft({"tags": ["老年人"]}))
            campaign_id = created["createCampaign"]["campaign"]["id"]
            await _gql(server, checker, APPROVE, {"id": campaign_id})
            title = "稳岗补贴免申即享"
        worker = Dispatcher(db, {Provider.FCM: fcm}, quiet=None)
        await worker.run_until_idle()
        event = json.loads(await asyncio.wait_for(ws.recv(), timeout=1.0))
        assert event["payload"]["data"]["inboxEvents"]["title"] == title
    assert await db["notifications"].count_documents({"user_id": user_id, "title": title}) == 1
    assert [m["message"]["notification"]["title"] for m in fcm_server.accepted] == [title]
