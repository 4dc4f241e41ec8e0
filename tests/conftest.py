"""One SecantusDB server per test session (or ZSB_MONGODB_URI), a fresh database per test."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from app.embedded_db import EmbeddedDatabase
from app.main import create_app
from app.settings import Settings
from auth.dev_issuer import DevIssuer
from tests.factories import Api

ISSUER_AUDIENCE = "zsb-app"

# The suite shares two cores with a database server and, in CI, whatever else runs there:
# Hypothesis' wall-clock checks would fail tests for the machine's load, not for our code.
hypothesis_settings.register_profile(
    "shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("shared-machine")

# Scans every log line and GraphQL response of the suite for unmasked personal data.
pytest_plugins = ["tests.security.pii_guard"]


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("ZSB_MONGODB_URI")
    if configured:
        yield configured
        return
    log_dir = tmp_path_factory.mktemp("secantus")
    with EmbeddedDatabase(None, log_path=log_dir / "secantus.log", test_commands=True) as db:
        yield db.uri


def loopback_socket() -> socket.socket:
    """A socket bound to a free port on 127.0.0.1 (bound first, so the port is known and ours)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


class ThreadedServer:
    """A real uvicorn server on 127.0.0.1 in a background thread (for provider stand-ins)."""

    def __init__(
        self,
        app: Any,
        *,
        lifespan: Literal["on", "off"] = "off",
        sock: socket.socket | None = None,
    ) -> None:
        self.app = app
        self.sock = sock or loopback_socket()
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan=lifespan))
        self.server_started = threading.Event()  # never set: a bounded wait between checks
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("server failed to start")
            self.server_started.wait(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[DevIssuer]:
    """The provincial identity service's stand-in: discovery + JWKS over real HTTP."""
    holder: dict[str, DevIssuer] = {}

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        await holder["issuer"].asgi_app()(scope, receive, send)  # type: ignore[arg-type]

    with ThreadedServer(app) as server:
        holder["issuer"] = DevIssuer(f"http://127.0.0.1:{server.port}", ISSUER_AUDIENCE)
        yield holder["issuer"]


def make_settings(mongo_uri: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "mongodb_uri": mongo_uri,
        "database_name": f"t_{uuid.uuid4().hex[:12]}",
        "data_dir": data_dir,
        "secret_key": "test-secret-" + "x" * 40,
        "demo_data": False,
        "dev_issuer": False,
        "rate_limits": "on",
        "log_level": "WARNING",
    }
    values.update(overrides)
    # model_validate, not Settings(...): the test run must not pick up ZSB_* from the shell.
    return Settings.model_validate(values)


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path, oidc_issuer: DevIssuer) -> Settings:
    return make_settings(mongo_uri, tmp_path, oidc_issuer=oidc_issuer.issuer)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application
        await application.state.zsb.client.drop_database(settings.database_name)


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Api(client, app.state.zsb)


@contextlib.asynccontextmanager
async def running_api(settings: Settings) -> AsyncIterator[Api]:
    """An app on its own settings (limits, environment) for tests that need other values."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield Api(c, application.state.zsb)
        await application.state.zsb.client.drop_database(settings.database_name)
