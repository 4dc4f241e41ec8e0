"""PIPL erasure reaches the outbox: an unfinished job that still named the erased person would
make the next worker run write a fresh inbox copy for them."""

from __future__ import annotations

from bson import ObjectId

from notifications import outbox
from notifications import personal_data as notifications_data
from notifications import service as notifications_service
from notifications.outbox_store import OutboxStore
from notifications.policy import ManualClock
from notifications.providers.fcm import FcmProvider
from notifications.store import INBOX, OUTBOX
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

    assert await db[INBOX].count_documents({"user_id": erased.id}) == 0
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
