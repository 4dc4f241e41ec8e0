"""The graphql-transport-ws endpoint on a real uvicorn: sign-in in connection_init, operations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.main import create_app
from tests.conftest import ThreadedServer, make_settings
from tests.factories import REQUEST_CODE

PROTOCOL = "graphql-transport-ws"


@pytest.fixture
def server(mongo_uri: str, tmp_path: Path) -> Iterator[ThreadedServer]:
    settings = make_settings(mongo_uri, tmp_path, demo_data=True)
    with ThreadedServer(create_app(settings), lifespan="on") as running:
        yield running
    client: MongoClient[dict[str, Any]]
    with MongoClient(mongo_uri) as client:
        client.drop_database(settings.database_name)


async def _token(server: ThreadedServer, phone: str) -> str:
    """The real flow over HTTP; the code is read back from the dev SMS outbox."""
    from pymongo import AsyncMongoClient

    async with httpx.AsyncClient(base_url=server.url) as http:
        await http.post("/graphql", json={"query": REQUEST_CODE, "variables": {"phone": phone}})
        state = server.app.state.zsb  # only to learn the database's name
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(state.settings.mongodb_uri)
        try:
            sms = await client[state.settings.database_name]["dev_sms_outbox"].find_one(
                {"phone": phone}
            )
        finally:
            await client.close()
        assert sms is not None
        code = sms["text"].split("验证码为")[1][:6]
        login = "mutation($p: String!, $c: String!) { loginWithCode(input: {phone: $p, code: $c})"
        login += " { accessToken } }"
        response = await http.post(
            "/graphql", json={"query": login, "variables": {"p": phone, "c": code}}
        )
        return str(response.json()["data"]["loginWithCode"]["accessToken"])


async def _init(ws: ClientConnection, payload: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    return dict(json.loads(await ws.recv()))


def _ws_url(server: ThreadedServer) -> str:
    return server.url.replace("http://", "ws://") + "/graphql"


async def test_signed_in_socket_runs_an_operation(server: ThreadedServer) -> None:
    token = await _token(server, "13800000001")
    async with connect(_ws_url(server), subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        assert (await _init(ws, {"authorization": f"Bearer {token}"}))["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {"id": "1", "type": "subscribe", "payload": {"query": "{ me { phone name } }"}}
            )
        )
        assert json.loads(await ws.recv()) == {
            "id": "1",
            "type": "next",
            "payload": {"data": {"me": {"phone": "138****0001", "name": "张*明"}}},
        }
        assert json.loads(await ws.recv()) == {"id": "1", "type": "complete"}


async def test_anonymous_socket_gets_unauthenticated_for_private_fields(
    server: ThreadedServer,
) -> None:
    async with connect(_ws_url(server), subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        assert (await _init(ws, {}))["type"] == "connection_ack"
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ me { phone } }"}})
        )
        message = json.loads(await ws.recv())
        assert message["payload"]["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_bad_token_closes_the_socket(server: ThreadedServer) -> None:
    async with connect(_ws_url(server), subprotocols=[PROTOCOL]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer x.y.z"}})
        )
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403
