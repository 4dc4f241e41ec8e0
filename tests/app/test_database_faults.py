"""The database goes away mid-life: readiness says so and clients get a retryable error that
names nothing of our infrastructure (tests/reliability/ drills the rest)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from app.embedded_db import EmbeddedDatabase
from app.main import create_app
from tests.conftest import make_settings
from tests.factories import Api, create_demo_user


async def test_database_stopping_turns_readiness_off_and_errors_say_retry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = EmbeddedDatabase(None, log_path=tmp_path / "db.log")
    db.start()
    try:
        app = create_app(make_settings(db.uri, tmp_path))
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        ):
            api = Api(client, app.state.zsb)
            await create_demo_user(api.state, "13800000001")
            token = await api.token("13800000001")
            assert (await api.client.get("/readyz")).status_code == 200
            db.stop()
            assert (await api.client.get("/readyz")).status_code == 503
            assert (await api.client.get("/healthz")).status_code == 200  # alive, not ready
            with caplog.at_level(logging.WARNING, logger="app.schema"):
                payload = await api.gql("{ me { phone } }", token=token)
            error = payload["errors"][0]
            assert error["extensions"] == {"code": "UNAVAILABLE", "retryable": True}
            assert error["message"].startswith("服务暂时不可用")
            assert "127.0.0.1" not in str(payload)  # nothing about our infrastructure leaks
            assert any("database unavailable" in r.message for r in caplog.records)
    finally:
        db.stop()
