"""Schema-driven fuzzing (quick form) against a real uvicorn server, signed in as each role.

The long run is `bench/fuzz.py`; this one is bounded in examples and in time.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from app.main import create_app
from app.settings import Settings
from tests.conftest import ThreadedServer
from tests.factories import Api
from tests.security import fuzzing
from tests.security.roles import Person, sign_in_everyone

EXAMPLES = int(os.environ.get("ZSB_FUZZ_EXAMPLES", "8"))  # per operation; ~580 requests
BUDGET_SECONDS = 60.0


@pytest.fixture
def fuzz_settings(settings: Settings) -> Settings:
    # Thousands of requests from one IP: the per-IP limit is lifted for the fuzzing server only.
    return settings.model_copy(update={"rate_limits": "off"})


@pytest.fixture
def server(fuzz_settings: Settings, api: Api) -> Iterator[ThreadedServer]:
    """A second app on the same database, served by real uvicorn (the `api` one seeds data)."""
    with ThreadedServer(create_app(fuzz_settings), lifespan="on") as running:
        yield running


@pytest.mark.slow
async def test_fuzzing_every_operation_as_every_role(api: Api, server: ThreadedServer) -> None:
    people: dict[str, Person] = await sign_in_everyone(api.state)
    tokens = {role: p.token for role, p in people.items() if role != "other"}
    loop = asyncio.get_running_loop()

    def fresh_token(role: str) -> str:
        phone = people[role].phone
        assert phone
        opened = asyncio.run_coroutine_threadsafe(
            api.state.auth_service().open_session_for_phone(phone, method="test"), loop
        ).result(30)
        return opened.access_token

    report = await asyncio.to_thread(
        fuzzing.run,
        server.url,
        tokens,
        examples=EXAMPLES,
        budget_seconds=BUDGET_SECONDS,
        fresh_token=fresh_token,
    )
    assert report.requests > 100, fuzzing.summary(report)
    assert not report.findings, fuzzing.summary(report)
