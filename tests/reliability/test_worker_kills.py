"""`zsb worker` killed with SIGKILL mid-campaign twice in a row; a third worker finishes.

Each death may re-send at most the batches that worker had in flight (at-least-once to FCM);
no inbox copy is lost or doubled, whatever the number of deaths.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from app.settings import Settings
from notifications.store import CAMPAIGNS, OUTBOX
from tests.factories import Api, create_demo_user
from tests.notifications.conftest import insert_citizens
from tests.notifications.fcm_standin import FcmStandIn
from tests.notifications.test_campaigns import APPROVE, CREATE, _draft
from tests.notifications.test_worker_process import (  # noqa: F401
    CHUNK,
    _until,
    _worker,
    assert_delivered_once,
    slow_fcm,
)

USERS = 120


@pytest.mark.slow
async def test_two_workers_killed_in_turn_lose_nothing_and_double_no_inbox_copy(
    api: Api,
    settings: Settings,
    slow_fcm: FcmStandIn,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    credentials = slow_fcm.service_account(tmp_path / "sa.json")
    users = await insert_citizens(api.state, USERS)
    for phone in ("13800000301", "13800000302"):
        await create_demo_user(api.state, phone)
    creator, checker = await api.token("13800000301"), await api.token("13800000302")
    created = await api.data(CREATE, _draft({"regionCodes": ["370211"]}), creator)
    await api.data(APPROVE, {"id": created["createCampaign"]["campaign"]["id"]}, checker)

    stranded = 0
    for kill_after in (25, 60):  # the first worker dies early, its successor halfway through
        worker = _worker(settings, credentials, slow_fcm.base_url)
        try:

            async def sent_enough(n: int = kill_after) -> bool:
                return len(slow_fcm.accepted) >= n

            await _until(sent_enough, 60, f"{kill_after} pushes")
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
        assert worker.returncode == -signal.SIGKILL
        assert len(slow_fcm.accepted) < USERS, "the kill came too late to test anything"
        stranded += await api.state.db[OUTBOX].count_documents({"status": "LEASED"})

    last = _worker(settings, credentials, slow_fcm.base_url)
    try:

        async def finished() -> bool:
            return await api.state.db[CAMPAIGNS].find_one({"status": "DONE"}) is not None

        await _until(finished, 90, "the third worker to finish the campaign")
    finally:
        last.send_signal(signal.SIGTERM)
        last.wait(20)
    assert last.returncode == 0

    await assert_delivered_once(api, slow_fcm, users, stranded)
