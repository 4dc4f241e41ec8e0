"""notify() → inbox + outbox → dispatcher → the real firebase-admin → the loopback FCM server."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from firebase_admin import messaging

from app.context import AppState
from notifications import service as notifications_service
from notifications.errors import MissingDataError, UnknownTemplateError
from notifications.models import Category, Provider
from notifications.outbox_store import OutboxStore
from notifications.policy import ManualClock, SystemClock
from notifications.providers.fcm import FcmProvider
from notifications.service import NotificationService
from notifications.store import FAILURES, INBOX, OUTBOX, NotificationStore
from notifications.worker import DispatchConfig, Dispatcher
from tests.factories import Api, create_demo_user
from tests.notifications.conftest import add_device, dispatcher
from tests.notifications.fcm_standin import PROJECT, FcmStandIn

STATUS_DATA = {
    "matter_name": "个体工商户设立登记",
    "receipt_number": "QD20261123000042",
    "status": "已受理",
    "application_id": "app42",
}


async def _notify(state: AppState, clock: ManualClock, user_id: object, **kw: object) -> object:
    return await notifications_service.notify(
        state.db,
        user_id,  # type: ignore[arg-type]
        str(kw.pop("template", "APPLICATION_STATUS_CHANGED")),
        kw.pop("data", STATUS_DATA),  # type: ignore[arg-type]
        clock=clock,
        **kw,  # type: ignore[arg-type]
    )


def test_firebase_admin_still_keeps_its_url_where_we_set_it() -> None:
    # The endpoint override writes this attribute; a firebase-admin that renames it fails here.
    assert "{0}" in messaging._MessagingService.FCM_URL
    assert "_fcm_url" in messaging._MessagingService.__init__.__code__.co_names


async def test_a_status_change_reaches_the_inbox_and_fcm(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn, clock: ManualClock
) -> None:
    user = await create_demo_user(api.state, "13800000001")
    await add_device(api.state, user, "ok-" + "a" * 40)
    message = await _notify(api.state, clock, user.id, key="application:app42:ACCEPTED")
    store = NotificationStore(api.state.db)
    assert await store.unread_count(user.id) == 1  # the inbox copy exists before any push

    assert fcm.url == f"{fcm_server.base_url}/v1/projects/{PROJECT}/messages:send"
    assert await dispatcher(api.state, fcm, clock).run_until_idle() == 1
    [sent] = fcm_server.accepted
    assert sent["token"] == "ok-" + "a" * 40
    assert sent["message"]["notification"]["title"] == "您的办件有新进展"
    assert "QD20261123000042" in sent["message"]["notification"]["body"]
    assert sent["message"]["data"]["deepLink"] == "zsb://applications/app42"
    assert fcm_server.token_requests >= 1  # OAuth through the service account's token_uri
    job = await api.state.db[OUTBOX].find_one({"_id": "notify:application:app42:ACCEPTED"})
    assert job is not None
    assert (job["status"], job["counts"]["sent"], job["counts"]["inboxed"]) == ("DONE", 1, 1)
    assert message is not None


async def test_same_key_twice_is_one_message_and_one_push(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn, clock: ManualClock
) -> None:
    user = await create_demo_user(api.state, "13800000001")
    await add_device(api.state, user, "ok-" + "b" * 40)
    first = await _notify(api.state, clock, user.id, key="application:app42:ACCEPTED")
    again = await _notify(api.state, clock, user.id, key="application:app42:ACCEPTED")
    assert first == again
    await dispatcher(api.state, fcm, clock).run_until_idle()
    assert await api.state.db[INBOX].count_documents({}) == 1
    assert len(fcm_server.accepted) == 1


async def test_missing_data_and_unknown_templates_write_nothing(
    api: Api, clock: ManualClock
) -> None:
    user = await create_demo_user(api.state, "13800000001")
    with pytest.raises(MissingDataError) as missing:
        await _notify(api.state, clock, user.id, data={**STATUS_DATA, "status": " "})
    assert missing.value.missing == ["status"]
    with pytest.raises(UnknownTemplateError):
        await _notify(api.state, clock, user.id, template="NO_SUCH_TEMPLATE")
    assert await api.state.db[INBOX].count_documents({}) == 0
    assert await api.state.db[OUTBOX].count_documents({}) == 0


async def test_dead_tokens_are_disabled_at_once_and_never_retried(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn, clock: ManualClock
) -> None:
    user = await create_demo_user(api.state, "13800000001")
    unreg = await add_device(api.state, user, "unreg-" + "c" * 40)
    invalid = await add_device(api.state, user, "invalid-" + "d" * 40)
    await add_device(api.state, user, "ok-" + "e" * 40)
    await _notify(api.state, clock, user.id, key="one")
    await dispatcher(api.state, fcm, clock).run_until_idle()

    devices = {d.id: d for d in await NotificationStore(api.state.db).user_devices(user.id)}
    assert not devices[unreg].enabled
    assert not devices[invalid].enabled
    failures = await api.state.db[FAILURES].find({}).to_list(10)
    assert sorted(f["code"] for f in failures) == ["INVALID_ARGUMENT", "UNREGISTERED"]

    await _notify(api.state, clock, user.id, key="two")
    await dispatcher(api.state, fcm, clock).run_until_idle()
    assert fcm_server.attempts["unreg-" + "c" * 40] == 1
    assert fcm_server.attempts["invalid-" + "d" * 40] == 1
    assert fcm_server.tokens_accepted() == ["ok-" + "e" * 40] * 2


async def test_429_waits_at_least_retry_after_then_sends_once(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn, clock: ManualClock
) -> None:
    user = await create_demo_user(api.state, "13800000001")
    await add_device(api.state, user, "quota-" + "f" * 40)
    await add_device(api.state, user, "ok-" + "g" * 40)
    await _notify(api.state, clock, user.id, key="k")
    worker = dispatcher(api.state, fcm, clock)
    await worker.run_until_idle()
    job = await api.state.db[OUTBOX].find_one({"_id": "notify:k"})
    assert job is not None
    assert job["status"] == "PENDING"
    assert job["due_at"] >= clock.now() + timedelta(seconds=7)  # the server's Retry-After
    assert fcm_server.tokens_accepted() == ["ok-" + "g" * 40]

    clock.advance(6)
    assert await worker.run_until_idle() == 0  # not due yet
    clock.advance(60)
    assert await worker.run_until_idle() == 1
    # The device that was accepted the first time is not sent to again.
    assert sorted(fcm_server.tokens_accepted()) == ["ok-" + "g" * 40, "quota-" + "f" * 40]
    assert fcm_server.attempts["ok-" + "g" * 40] == 1


@pytest.mark.parametrize("prefix", ["flaky-", "garbage-"])
async def test_500_and_garbage_answers_are_retried_with_backoff(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn, clock: ManualClock, prefix: str
) -> None:
    user = await create_demo_user(api.state, "13800000001")
    token = prefix + "h" * 40
    await add_device(api.state, user, token)
    await _notify(api.state, clock, user.id, key="k")
    worker = dispatcher(api.state, fcm, clock)
    await worker.run_until_idle()
    job = await api.state.db[OUTBOX].find_one({"_id": "notify:k"})
    assert job is not None
    assert (job["status"], job["attempts"]) == ("PENDING", 1)
    assert clock.now() + timedelta(seconds=1) <= job["due_at"] <= clock.now() + timedelta(seconds=2)
    clock.advance(2)
    await worker.run_until_idle()
    assert fcm_server.tokens_accepted() == [token]
    assert await api.state.db[INBOX].count_documents({}) == 1


async def test_gives_up_after_the_attempt_budget(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn, clock: ManualClock
) -> None:
    user = await create_demo_user(api.state, "13800000001")
    await add_device(api.state, user, "flaky-" + "i" * 40)
    await _notify(api.state, clock, user.id, key="k")
    await dispatcher(api.state, fcm, clock, max_attempts=1).run_until_idle()
    job = await api.state.db[OUTBOX].find_one({"_id": "notify:k"})
    assert job is not None
    assert (job["status"], job["gave_up"], job["counts"]["failed"]) == ("DONE", True, 1)
    assert await api.state.db[FAILURES].find_one({"code": "GAVE_UP"}) is not None


async def test_quiet_hours_hold_non_urgent_pushes_but_not_the_inbox(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn
) -> None:
    late = ManualClock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))  # 23:00 in Qingdao
    user = await create_demo_user(api.state, "13800000001")
    await add_device(api.state, user, "ok-" + "j" * 40)
    await _notify(api.state, late, user.id, key="calm")
    await _notify(
        api.state,
        late,
        user.id,
        key="refused",
        template="LICENCE_CHECK_REFUSED",
        data={
            "licence_name": "驾驶证",
            "checked_at": "23:00",
            "reason": "重放",
            "licence_id": "l1",
        },
        urgent=True,
    )
    worker = dispatcher(api.state, fcm, late)
    await worker.run_until_idle()
    assert await api.state.db[INBOX].count_documents({}) == 2
    assert [m["message"]["notification"]["title"] for m in fcm_server.accepted] == [
        "证照查验异常提醒"
    ]
    held = await api.state.db[OUTBOX].find_one({"_id": "notify:calm"})
    assert held is not None
    assert held["due_at"] == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 08:00 in Qingdao

    late.current = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    await worker.run_until_idle()
    assert len(fcm_server.accepted) == 2


async def test_quiet_hours_can_be_disabled(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn
) -> None:
    late = ManualClock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    user = await create_demo_user(api.state, "13800000001")
    await add_device(api.state, user, "ok-" + "k" * 40)
    await _notify(api.state, late, user.id)
    await dispatcher(api.state, fcm, late, quiet="").run_until_idle()
    assert len(fcm_server.accepted) == 1


async def test_policy_pushes_are_capped_at_two_a_day_and_opt_out_is_per_category(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn, clock: ManualClock
) -> None:
    user = await create_demo_user(api.state, "13800000001")
    await add_device(api.state, user, "ok-" + "l" * 40)
    worker = dispatcher(api.state, fcm, clock)
    for n in range(3):
        await _notify(api.state, clock, user.id, key=f"p{n}", category=Category.POLICY)
        await worker.run_until_idle()
    assert len(fcm_server.accepted) == 2
    assert await api.state.db[INBOX].count_documents({"push": False}) == 1

    clock.current = clock.current + timedelta(days=1)  # a new day in Qingdao
    await _notify(api.state, clock, user.id, key="p3", category=Category.POLICY)
    await worker.run_until_idle()
    assert len(fcm_server.accepted) == 3

    viewer_service = NotificationService(api.state.db, clock)
    viewer = await api.state.auth_service().authenticate(await api.token("13800000001"))
    await viewer_service.set_opted_out(viewer, [Category.REMINDER])
    await _notify(
        api.state,
        clock,
        user.id,
        key="expiry",
        template="LICENCE_EXPIRING",
        data={"licence_name": "驾驶证", "valid_until": "2026-12-31", "licence_id": "l1"},
    )
    await worker.run_until_idle()
    assert len(fcm_server.accepted) == 3  # opted out: no push …
    assert await api.state.db[INBOX].count_documents({"source": "notify:expiry"}) == 1  # … inbox


async def test_a_worker_that_lost_its_lease_cannot_record(
    api: Api, fcm: FcmProvider, clock: ManualClock
) -> None:
    user = await create_demo_user(api.state, "13800000001")
    await _notify(api.state, clock, user.id, key="k")
    slow, quick = dispatcher(api.state, fcm, clock), dispatcher(api.state, fcm, clock)
    job = await slow.claim()
    assert job is not None
    clock.advance(61)  # the lease (60 s) ran out: `slow` is presumed dead
    taken = await quick.claim()
    assert taken is not None
    assert taken["_id"] == job["_id"]
    store = OutboxStore(api.state.db)
    assert not await store.update_job(job["_id"], slow.owner, {"$set": {"status": "DONE"}})
    await quick.process(taken)
    await slow.process(job)  # finds itself fenced off; changes nothing
    done = await store.get_job(job["_id"])
    assert done is not None
    assert (done["status"], done["lease_owner"]) == ("DONE", quick.owner)


def test_fcm_error_codes_are_classified() -> None:
    # Quick sanity of the parsing helper used for Retry-After.
    from notifications.providers.base import parse_retry_after

    now = datetime(2026, 11, 23, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Mon, 23 Nov 2026 00:00:30 GMT", now) == 30.0
    assert parse_retry_after("soon") is None


async def test_jobs_waiting_for_a_slow_provider_keep_their_lease(
    api: Api, fcm_credentials: Path, fcm_server: FcmStandIn
) -> None:
    # Real time here: leases of 0.6 s, an FCM answering in 0.2 s, one request slice in flight
    # per provider. Six two-device jobs queue for ~1.2 s: without lease renewal they would be
    # claimed again (by the other worker or the same one) and pushed twice. (With 0.3 s leases a
    # renewal arriving late on a loaded 2-core CI machine took one job over: the margin between
    # the renewal and the lease is what is widened, not the behaviour asserted.)
    fcm_server.delay = 0.2
    provider = await FcmProvider.create(fcm_credentials, fcm_server.base_url, http_timeout=5)
    clock = SystemClock()
    try:
        for phone in ("13800000001", "13800000002", "13800000003"):
            user = await create_demo_user(api.state, phone)
            for n in range(2):
                await add_device(api.state, user, f"ok-{phone}-{n}-" + "s" * 30)
                # The key is not the phone: it is the job id the worker logs (masking scan).
                await _notify(api.state, clock, user.id, key=f"u{phone[-1]}-{n}")  # type: ignore[arg-type]
        workers = [
            Dispatcher(
                api.state.db,
                {Provider.FCM: provider},
                quiet=None,
                clock=clock,
                config=DispatchConfig(lease_seconds=0.3, jobs_in_flight=3, poll_interval=0.05),
            )
            for _ in range(2)
        ]
        stop = asyncio.Event()
        running = [asyncio.create_task(w.run(stop)) for w in workers]
        deadline = time.monotonic() + 30
        while await api.state.db[OUTBOX].count_documents({"status": {"$ne": "DONE"}}):
            assert time.monotonic() < deadline, "jobs did not finish"
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*running)
    finally:
        await provider.aclose()
    claims = [j["claims"] async for j in api.state.db[OUTBOX].find({})]
    assert claims == [1] * 6  # no job was taken over
    sent = Counter(fcm_server.tokens_accepted())
    assert len(sent) == 6
    assert set(sent.values()) == {2}  # each device once per notification (two each)


async def test_a_slow_provider_times_out_and_is_retried_not_lost(
    api: Api, fcm_credentials: Path, fcm_server: FcmStandIn, clock: ManualClock
) -> None:
    fcm_server.delay = 1.5
    provider = await FcmProvider.create(fcm_credentials, fcm_server.base_url, http_timeout=0.3)
    try:
        user = await create_demo_user(api.state, "13800000001")
        await add_device(api.state, user, "ok-" + "z" * 40)
        await _notify(api.state, clock, user.id, key="k")
        worker = dispatcher(api.state, provider, clock)
        await worker.run_until_idle()
        job = await api.state.db[OUTBOX].find_one({"_id": "notify:k"})
        assert job is not None
        assert (job["status"], job["attempts"], job["counts"]["sent"]) == ("PENDING", 1, 0)
        fcm_server.delay = 0
        clock.advance(5)
        await worker.run_until_idle()
    finally:
        await provider.aclose()
    job = await api.state.db[OUTBOX].find_one({"_id": "notify:k"})
    assert job is not None
    assert (job["status"], job["counts"]["sent"]) == ("DONE", 1)
    # The stand-in finished the slow request after we gave up on it: at-least-once, as designed.
    assert fcm_server.tokens_accepted().count("ok-" + "z" * 40) in (1, 2)
    assert await api.state.db[INBOX].count_documents({}) == 1
