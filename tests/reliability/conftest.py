"""Fault drills: a SecantusDB of their own with test commands, so fail points never reach the
session database the rest of the suite shares, and it can be stopped and started at will."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from app.embedded_db import EmbeddedDatabase
from app.settings import Settings
from auth.dev_issuer import DevIssuer
from tests.conftest import make_settings, running_api
from tests.factories import Api

DRILL_APP = "zsb-drill"  # the drill's own client: fail points scoped to appName "zsb" spare it


@pytest.fixture(scope="module")
def drill_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedDatabase]:
    home = tmp_path_factory.mktemp("drill-db")
    # On disk, not :memory:, so a stop and a start keep the data like a real outage would.
    db = EmbeddedDatabase(home / "data", log_path=home / "db.log", test_commands=True)
    with db:
        yield db


UNTIL_OFF = {"skip": 1, "times": 1_000_000}  # let the first matching command through, fail the rest


class FailPoints:
    """`configureFailPoint failCommand` for the service's client only (appName "zsb")."""

    def __init__(self, uri: str) -> None:
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            uri, appname=DRILL_APP, serverSelectionTimeoutMS=5_000
        )

    async def arm(self, mode: object, commands: list[str], **data: object) -> None:
        await self.client.admin.command(
            "configureFailPoint",
            "failCommand",
            mode=mode,
            data={"failCommands": commands, "appName": "zsb", **data},
        )

    async def off(self) -> None:
        await self.client.admin.command("configureFailPoint", "failCommand", mode="off")


@pytest.fixture
async def fail_points(drill_db: EmbeddedDatabase) -> AsyncIterator[FailPoints]:
    points = FailPoints(drill_db.uri)
    try:
        yield points
    finally:
        with contextlib.suppress(Exception):  # the drill may have stopped the server
            await points.off()
        await points.client.close()


@pytest.fixture
def drill_settings(drill_db: EmbeddedDatabase, tmp_path: Path, oidc_issuer: DevIssuer) -> Settings:
    # A short database budget per request: the drills' outages answer in 4 s, not 10. (2 s was
    # too short for a drill's set-up upload on a loaded 2-core machine: UNAVAILABLE before any
    # fault was armed.)
    return make_settings(
        drill_db.uri, tmp_path, oidc_issuer=oidc_issuer.issuer, db_request_timeout_seconds=4.0
    )


@pytest.fixture
async def drill_api(drill_settings: Settings) -> AsyncIterator[Api]:
    async with running_api(drill_settings) as api:
        yield api


def unavailable(payload: dict[str, Any]) -> bool:
    """The one error a client should answer by retrying: UNAVAILABLE, marked retryable."""
    errors = payload.get("errors") or []
    return bool(errors) and all(
        e.get("extensions") == {"code": "UNAVAILABLE", "retryable": True} for e in errors
    )


# The FCM stand-in (real HTTP on loopback) and the provider, as the notification tests use them.
# The applications fixtures, for drills that override `api` with `drill_api`.
from tests.applications.conftest import catalogue, citizen, clerk  # noqa: E402, F401
from tests.notifications.conftest import fcm, fcm_credentials, fcm_server  # noqa: E402, F401
