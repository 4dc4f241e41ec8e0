"""FCM misbehaving for a while, then recovering: 500s, garbage bodies, answers too slow to
wait for. Nothing is lost, no inbox copy is written twice, and every retry waits its back-off
(a ManualClock: a job is not even claimable before its time)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from app.context import AppState
from notifications.policy import ManualClock
from notifications.providers.fcm import FcmProvider
from notifications.store import INBOX, OUTBOX
from notifications.worker import Dispatcher
from tests.factories import Api
from tests.notifications.conftest import dispatcher, insert_citizens
from tests.notifications.fcm_standin import FcmStandIn
from tests.notifications.test_campaigns import APPROVE, CAMPAIGN, _create, _operators


async def _due(state: AppState) -> dict[str, tuple[str, int, datetime]]:
    return {
        j["_id"]: (j["status"], j["attempts"], j["due_at"]) async for j in state.db[OUTBOX].find({})
    }


async def _failing_round(
    state: AppState, worker: Dispatcher, clock: ManualClock, attempt: int
) -> None:
    """Run everything due; every job must fail once more and wait base × 2^(attempt-1),
    jittered over the upper half. Just before the earliest due time nothing is claimable."""
    started = clock.now()
    await worker.run_until_idle()
    ceiling = 2.0 * 2 ** (attempt - 1)
    due = await _due(state)
    assert {(s, a) for s, a, _ in due.values()} == {("PENDING", attempt)}
    for _, _, at in due.values():
        assert (
            started + timedelta(seconds=ceiling / 2) <= at <= started + timedelta(seconds=ceiling)
        )
    earliest = min(at for _, _, at in due.values())
    clock.current = earliest - timedelta(milliseconds=10)
    assert await worker.claim() is None  # back-off honoured: not claimable yet
    clock.current = max(at for _, _, at in due.values())


async def test_an_outage_of_500s_garbage_and_timeouts_then_recovery_loses_nothing(
    api: Api, fcm_server: FcmStandIn, fcm_credentials: Path, clock: ManualClock
) -> None:
    users = await insert_citizens(api.state, 30)
    creator, checker = await _operators(api)
    campaign = await _create(api, creator, {"regionCodes": ["370211"]})
    await api.data(APPROVE, {"id": campaign["id"]}, checker)
    provider = await FcmProvider.create(fcm_credentials, fcm_server.base_url, http_timeout=0.3)
    try:
        worker = dispatcher(api.state, provider, clock)
        fcm_server.outage = "500"
        await _failing_round(api.state, worker, clock, attempt=1)
        await _failing_round(api.state, worker, clock, attempt=2)
        fcm_server.outage = "garbage"
        await _failing_round(api.state, worker, clock, attempt=3)
        fcm_server.outage, fcm_server.delay = None, 1.0  # answers arrive after we gave up
        await _failing_round(api.state, worker, clock, attempt=4)
        # Nothing was acknowledged to us yet (the stand-in may still finish the slow ones).
        jobs = [j async for j in api.state.db[OUTBOX].find({})]
        assert [j["counts"]["sent"] for j in jobs] == [0, 0]
        assert all(j["done_device_ids"] == [] for j in jobs)
        # FCM finishes the requests we stopped waiting for (and accepts them): wait for that,
        # so what it accepted is known before the recovery round, and nothing is left running.
        deadline = time.monotonic() + 10
        while fcm_server.in_flight:
            assert time.monotonic() < deadline, "the stand-in kept requests open"
            await asyncio.sleep(0.02)
        assert len(fcm_server.tokens_accepted()) == 30
        fcm_server.delay = 0.0  # recovered
        await worker.run_until_idle()
    finally:
        await provider.aclose()

    assert {s for s, _, _ in (await _due(api.state)).values()} == {"DONE"}
    copies = Counter([d["user_id"] async for d in api.state.db[INBOX].find({})])
    assert set(copies) == set(users)
    assert set(copies.values()) == {1}  # exactly once into the inbox, through five attempts
    result = (await api.data(CAMPAIGN, {"id": campaign["id"]}, checker))["campaign"]
    assert result["status"] == "DONE"
    assert (result["stats"]["sent"], result["stats"]["failed"]) == (30, 0)
    sent = Counter(fcm_server.tokens_accepted())
    assert len(sent) == 30  # every device reached: at least once to providers, so here twice,
    assert set(sent.values()) == {2}  # as FCM accepted the timed-out requests of round 4 too
    assert await api.state.db["notification_failures"].count_documents({}) == 0
