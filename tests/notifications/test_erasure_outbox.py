"""PIPL erasure reaches the outbox: an unfinished job that still named the erased person would
make the next worker run write a fresh inbox copy for them."""

from __future__ import annotations

from datetime import timedelta

from bson import ObjectId

from notifications import outbox
from notifications import personal_data as notifications_data
from notifications import service as notifications_service
from notifications.inbox_writer import ensure_inbox
from notifications.outbox_store import OutboxStore
from notifications.policy import ManualClock
from notifications.providers.fcm import FcmProvider
from notifications.store import INBOX, OUTBOX, NotificationStore
from tests.factories import Api, create_demo_user
from tests.notifications.conftest import dispatcher

STATUS_DATA = {
    "matter_name": "个体工商户设立登记",
    "receipt_number": "QD20261123000042",
    "status": "已受理",
    "application_id": "app42",
}


async def test_erasure_takes_the_person_out_of_pending_jobs(
    api: Api, fcm: FcmProvider, clock: ManualClock
) -> None:
    db = api.state.db
    erased = await create_demo_user(api.state, "13800000001")
    other = await create_demo_user(api.state, "13800000002")
    # A notify() whose job the worker has not run yet, and a campaign chunk naming both.
    await notifications_service.notify(
        db, erased.id, "APPLICATION_STATUS_CHANGED", STATUS_DATA, key="erase:1", clock=clock
    )
    campaign_id = ObjectId()
    jobs = OutboxStore(db)
    chunk = outbox.new_job(
        f"campaign:{campaign_id}:0",
        user_ids=[erased.id, other.id],
        source=outbox.campaign_source(campaign_id),
        message={"title": "通知", "body": "停水", "category": "SYSTEM", "deep_link": None},
        urgent=False,
        now=clock.now(),
        campaign_id=campaign_id,
    )
    assert await jobs.insert_job(chunk)
    assert (await jobs.campaign_job_totals(campaign_id))["queued"] == 2

    counts = await notifications_data.erase(db, erased.id, clock.now())
    # Campaign stats (`queued` is the `$size` of `user_ids`) count the one recipient left.
    assert (await jobs.campaign_job_totals(campaign_id))["queued"] == 1
    await dispatcher(api.state, fcm, clock).run_until_idle()

    # No copy; only the tombstones that keep a lease holder from writing one (no message in them)
    assert await db[INBOX].count_documents({"user_id": erased.id, "erased": {"$ne": True}}) == 0
    assert await db[INBOX].count_documents({"user_id": erased.id, "title": {"$exists": True}}) == 0
    assert await db[OUTBOX].count_documents({"user_ids": erased.id}) == 0
    notice = await db[OUTBOX].find_one({"_id": "notify:erase:1"})
    assert notice is not None
    assert notice["status"] == "CANCELLED"  # nobody left: finished, expires, no message kept
    assert "message" not in notice
    left = await db[OUTBOX].find_one({"_id": chunk["_id"]})
    assert left is not None
    assert left["user_ids"] == [other.id]
    assert counts["outboxJobsUpdated"] == 2
    assert counts["outboxJobsCancelled"] == 1


async def test_a_job_leased_before_the_erasure_writes_no_copy_for_the_erased(
    api: Api, clock: ManualClock
) -> None:
    """The state of the review finding: a worker holds the job (and its recipient list) when the
    person is erased, and writes the copies after the erasure's inbox delete."""
    db = api.state.db
    erased = await create_demo_user(api.state, "13800000001")
    other = await create_demo_user(api.state, "13800000002")
    campaign_id = ObjectId()
    jobs = OutboxStore(db)
    chunk = outbox.new_job(
        f"campaign:{campaign_id}:0",
        user_ids=[erased.id, other.id],
        source=outbox.campaign_source(campaign_id),
        message={"title": "通知", "body": "停水", "category": "SYSTEM", "deep_link": None},
        urgent=False,
        now=clock.now(),
        campaign_id=campaign_id,
    )
    assert await jobs.insert_job(chunk)
    leased = await jobs.claim_job(clock.now(), "worker-1", clock.now() + timedelta(minutes=5))
    assert leased is not None
    assert leased["user_ids"] == [erased.id, other.id]  # what the worker holds in memory

    await notifications_data.erase(db, erased.id, clock.now())
    copies, push_users = await ensure_inbox(NotificationStore(db), leased, clock.now())

    real = {"user_id": erased.id, "erased": {"$ne": True}}
    assert await db[INBOX].count_documents(real) == 0
    assert erased.id not in push_users
    assert copies == 1
    assert await db[INBOX].count_documents({"user_id": other.id}) == 1
    # A second pass over the same snapshot (a retry after a lost lease) changes nothing.
    await ensure_inbox(NotificationStore(db), leased, clock.now())
    assert await db[INBOX].count_documents(real) == 0


async def test_a_copy_written_just_before_the_tombstone_is_replaced(
    api: Api, clock: ManualClock
) -> None:
    """The lease holder's insert lands between the erasure's inbox delete and its tombstone.

    Driven in that order (review 3 finding 6: the copy used to be written before `erase()`,
    whose own delete removed it, so the tombstone's replace was never exercised)."""
    db = api.state.db
    erased = await create_demo_user(api.state, "13800000001")
    job = outbox.new_job(
        "notify:late",
        user_ids=[erased.id],
        source="notify:late",
        message={"title": "通知", "body": "办结", "category": "SYSTEM", "deep_link": None},
        urgent=False,
        now=clock.now(),
    )
    assert await OutboxStore(db).insert_job(job)
    leased = await OutboxStore(db).claim_job(
        clock.now(), "worker-1", clock.now() + timedelta(minutes=5)
    )
    assert leased is not None
    # erase(): the job leaves the person out (the worker holds its old snapshot) ...
    await db[OUTBOX].update_one({"_id": "notify:late"}, {"$pull": {"user_ids": erased.id}})
    # ... and the inbox is emptied (the person has no copy yet) ...
    await db[INBOX].delete_many({"user_id": erased.id, "erased": {"$ne": True}})
    # ... then the lease holder writes from its snapshot ...
    copies, _ = await ensure_inbox(NotificationStore(db), leased, clock.now())
    assert copies == 1
    assert await db[INBOX].count_documents({"user_id": erased.id, "title": "通知"}) == 1
    # ... and erase() takes the slot: the copy is replaced, not left beside a tombstone.
    await notifications_data._tombstone(db, erased.id, "notify:late", clock.now())
    assert await db[INBOX].count_documents({"user_id": erased.id, "erased": {"$ne": True}}) == 0
    stone = await db[INBOX].find_one({"user_id": erased.id})
    assert stone is not None
    assert stone["erased"] is True
    assert "title" not in stone
    # The lease holder's second pass (a retry after a lost lease) writes nothing.
    assert (await ensure_inbox(NotificationStore(db), leased, clock.now()))[0] == 0
    assert await db[INBOX].count_documents({"user_id": erased.id}) == 1


async def test_a_keyed_notify_after_the_erasure_writes_nothing_and_raises_nothing(
    api: Api,
) -> None:
    """Review 3 finding 5: the slot holds an erasure tombstone, the writer writes no copy, and
    `notify` answers None (it raised IndexError, an "Unexpected error" for its caller)."""
    db = api.state.db
    user = await create_demo_user(api.state, "13800000001")
    first = await notifications_service.notify(
        db, user.id, "APPLICATION_STATUS_CHANGED", STATUS_DATA, key="tomb:1"
    )
    assert first is not None
    await notifications_data.erase(db, user.id, first.created_at)  # the job still pending
    again = await notifications_service.notify(
        db, user.id, "APPLICATION_STATUS_CHANGED", STATUS_DATA, key="tomb:1"
    )
    assert again is None
    assert await db[INBOX].count_documents({"user_id": user.id, "erased": {"$ne": True}}) == 0


async def test_a_notice_written_in_a_transaction_has_no_copy_for_an_erased_account(
    api: Api,
) -> None:
    """`with_copy()` (the copy inside the caller's transaction) resolves the recipient like the
    inbox writer does: an account being erased gets the job alone, which writes nothing."""
    from datetime import UTC, datetime

    from notifications import planned

    db = api.state.db
    user = await create_demo_user(api.state, "13800000001")
    notice = planned.plan(db, user.id, "APPLICATION_STATUS_CHANGED", STATUS_DATA, key="txn:1")
    assert len(await notice.with_copy() or []) == 2  # job and copy
    await db["users"].update_one({"_id": user.id}, {"$set": {"erasing_at": datetime.now(UTC)}})
    assert await notice.with_copy() == []
