"""The daily policy cap under concurrency, and how long finished work is kept."""

from __future__ import annotations

import asyncio
from collections import Counter

from bson import ObjectId

from app.context import AppState
from notifications import outbox
from notifications.inbox_writer import write_copies
from notifications.models import Category, InboxMessage
from notifications.outbox import FAILURE_RETENTION, JOB_RETENTION
from notifications.outbox_store import OutboxStore
from notifications.policy import ManualClock
from notifications.providers.fcm import FcmProvider
from notifications.store import FAILURES, INBOX, OUTBOX, NotificationStore
from tests.factories import Api
from tests.notifications.conftest import dispatcher, insert_citizens
from tests.notifications.fcm_standin import FcmStandIn
from tests.notifications.test_campaigns import APPROVE, CAMPAIGN, CANCEL, _create, _operators


def _policy_job(job_id: str, user_ids: list[ObjectId], clock: ManualClock) -> dict[str, object]:
    message: dict[str, object] = {
        "title": f"政策 {job_id}",
        "body": "符合条件可申请。",
        "category": Category.POLICY.value,
        "deep_link": None,
        "expires_at": None,
        "data": {},
    }
    return outbox.new_job(
        job_id, user_ids=user_ids, source=job_id, message=message, urgent=False, now=clock.now()
    )


async def _one_policy_push_today(
    state: AppState, users: list[ObjectId], clock: ManualClock
) -> None:
    store = NotificationStore(state.db)

    def make(uid: ObjectId, push: bool, slot: str | None) -> InboxMessage:
        return InboxMessage(
            ObjectId(),
            uid,
            "earlier",
            "早先",
            "正文",
            Category.POLICY,
            None,
            clock.now(),
            None,
            push=push,
            push_slot=slot,
        )

    copies = await write_copies(store, users, "earlier", Category.POLICY, clock.now(), make)
    assert all(c.push and c.push_slot and c.push_slot.endswith("#1") for c in copies)


async def test_two_workers_cannot_both_send_the_third_policy_push_of_the_day(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn, clock: ManualClock
) -> None:
    users = await insert_citizens(api.state, 30)
    await _one_policy_push_today(api.state, users, clock)
    jobs = OutboxStore(api.state.db)
    for name in ("policy-a", "policy-b"):
        assert await jobs.insert_job(_policy_job(name, users, clock))
    first, second = dispatcher(api.state, fcm, clock), dispatcher(api.state, fcm, clock)
    job_a, job_b = await first.claim(), await second.claim()
    assert job_a is not None
    assert job_b is not None
    # Both count one earlier push for every user before either writes: the classic race.
    await asyncio.gather(first.process(job_a), second.process(job_b))

    pushed = Counter(
        [d["user_id"] async for d in api.state.db[INBOX].find({"push": True, "category": "POLICY"})]
    )
    assert set(pushed.values()) == {2}  # the earlier push and exactly one of the two
    assert len(pushed) == 30
    assert await api.state.db[INBOX].count_documents({"push": False}) == 30  # inbox only
    assert len(fcm_server.accepted) == 30  # one push per device across both jobs
    done = [j async for j in api.state.db["notification_outbox"].find({})]
    assert sorted(j["counts"]["sent"] for j in done) == sorted(
        j["counts"]["inboxed"] - j["counts"]["suppressed"] for j in done
    )


async def test_finished_work_expires_but_campaign_stats_stay(
    api: Api, fcm: FcmProvider, fcm_server: FcmStandIn, clock: ManualClock
) -> None:
    ttl = {
        (name, tuple(k for k, _ in spec["key"])): spec.get("expireAfterSeconds")
        for name in (OUTBOX, FAILURES)
        for spec in (await api.state.db[name].index_information()).values()
    }
    assert ttl[(OUTBOX, ("finished_at",))] == JOB_RETENTION.total_seconds()
    assert ttl[(FAILURES, ("at",))] == FAILURE_RETENTION.total_seconds()

    users = await insert_citizens(api.state, 45)
    creator, checker = await _operators(api)
    campaign = await _create(api, creator, {"regionCodes": ["370211"]})
    await api.data(APPROVE, {"id": campaign["id"]}, checker)
    worker = dispatcher(api.state, fcm, clock)
    await worker.plan_step()
    assert await api.state.db[OUTBOX].count_documents({"finished_at": {"$exists": True}}) == 0
    await worker.run_until_idle()
    jobs = [j async for j in api.state.db[OUTBOX].find({})]
    assert len(jobs) == 3
    assert all(j["status"] == "DONE" and j["finished_at"] == clock.now() for j in jobs)
    before = (await api.data(CAMPAIGN, {"id": campaign["id"]}, checker))["campaign"]

    await api.state.db[OUTBOX].delete_many({})  # what the TTL monitor does 30 days later
    after = (await api.data(CAMPAIGN, {"id": campaign["id"]}, checker))["campaign"]
    assert after == before
    assert after["stats"]["sent"] == len(users) == len(fcm_server.accepted)


async def test_cancelled_jobs_are_finished_so_they_expire_too(
    api: Api, fcm: FcmProvider, clock: ManualClock
) -> None:
    await insert_citizens(api.state, 50)
    creator, checker = await _operators(api)
    campaign = await _create(api, creator, {"regionCodes": ["370211"]})
    await api.data(APPROVE, {"id": campaign["id"]}, checker)
    worker = dispatcher(api.state, fcm, clock)
    await worker.plan_step()
    job = await worker.claim()  # in hand while the campaign is cancelled
    assert job is not None
    await api.data(CANCEL, {"id": campaign["id"]}, creator)
    await worker.process(job)
    await worker.run_until_idle()
    statuses = [(j["status"], "finished_at" in j) async for j in api.state.db[OUTBOX].find({})]
    assert statuses == [("CANCELLED", True)] * 3
