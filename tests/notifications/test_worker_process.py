"""`zsb worker` as real processes: one is killed with SIGKILL mid-campaign, another finishes.

Nothing may be lost (every device gets the push, every recipient an inbox copy) and nothing
may reach an inbox twice; a push the dead worker had in flight may go to FCM again
(at-least-once), but never more than the batches it had in flight.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest
from bson import ObjectId

from app.settings import Settings
from notifications.store import CAMPAIGNS, INBOX, OUTBOX
from tests.conftest import ThreadedServer, loopback_socket
from tests.factories import Api, create_demo_user
from tests.notifications.conftest import insert_citizens
from tests.notifications.fcm_standin import FcmStandIn
from tests.notifications.test_campaigns import APPROVE, CREATE, _draft

ROOT = Path(__file__).resolve().parents[2]
USERS = 120
CHUNK = 10


@pytest.fixture
def slow_fcm() -> Iterator[FcmStandIn]:
    standin = FcmStandIn(delay=0.03)  # a little latency, so the kill lands mid-campaign
    sock = loopback_socket()
    standin.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with ThreadedServer(standin.app, sock=sock):
        yield standin


def _worker(settings: Settings, credentials: Path, endpoint: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ZSB_MONGODB_URI": str(settings.mongodb_uri),
        "ZSB_DATABASE_NAME": settings.database_name,
        "ZSB_DATA_DIR": str(settings.data_dir),
        "ZSB_SECRET_KEY": "test-secret-" + "x" * 40,
        "ZSB_DEMO_DATA": "false",
        "ZSB_DEV_ISSUER": "false",
        "ZSB_FCM_CREDENTIALS": str(credentials),
        "ZSB_FCM_ENDPOINT": endpoint,
        "ZSB_QUIET_HOURS": "",  # the real clock may well be in Qingdao's night
    }
    command = [sys.executable, "-m", "app.cli", "worker", "--lease-seconds", "2"]
    command += ["--chunk-size", str(CHUNK), "--concurrency", "4"]
    return subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 - our own CLI


async def assert_delivered_once(
    api: Api, fcm: FcmStandIn, users: Collection[ObjectId], stranded_jobs: int
) -> None:
    """Every device reached (nothing lost), re-sent only what leased-out jobs had in flight,
    and every user's inbox copy written exactly once."""
    per_token = Counter(fcm.tokens_accepted())
    assert len(per_token) == USERS  # nothing lost
    resent = sum(n - 1 for n in per_token.values())
    assert resent <= stranded_jobs * CHUNK  # only what the killed workers had in flight
    copies = Counter([d["user_id"] async for d in api.state.db[INBOX].find({}, {"user_id": 1})])
    assert set(copies) == set(users)
    assert set(copies.values()) == {1}  # exactly once into the inbox


async def _until(check: object, seconds: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_a_killed_worker_loses_nothing_and_duplicates_no_inbox_copy(
    api: Api, settings: Settings, slow_fcm: FcmStandIn, tmp_path: Path
) -> None:
    credentials = slow_fcm.service_account(tmp_path / "sa.json")
    users = await insert_citizens(api.state, USERS)
    for phone in ("13800000301", "13800000302"):
        await create_demo_user(api.state, phone)
    creator, checker = await api.token("13800000301"), await api.token("13800000302")
    created = await api.data(CREATE, _draft({"regionCodes": ["370211"]}), creator)
    campaign_id = created["createCampaign"]["campaign"]["id"]
    await api.data(APPROVE, {"id": campaign_id}, checker)

    first = _worker(settings, credentials, slow_fcm.base_url)
    try:

        async def some_sent() -> bool:
            return len(slow_fcm.accepted) >= 30

        await _until(some_sent, 60, "the first worker to send")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    sent_before = len(slow_fcm.accepted)
    assert sent_before < USERS, "the kill came too late to test anything"
    stranded = await api.state.db[OUTBOX].count_documents({"status": "LEASED"})

    second = _worker(settings, credentials, slow_fcm.base_url)
    try:

        async def finished() -> bool:
            return await api.state.db[CAMPAIGNS].find_one({"status": "DONE"}) is not None

        await _until(finished, 90, "the second worker to finish the campaign")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    assert second.returncode == 0

    await assert_delivered_once(api, slow_fcm, users, stranded)
