"""A campaign's delivery loses its database mid-job: the worker's job fails, its lease runs out,
and once the database is back the campaign finishes with every inbox copy written once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from app.errors import is_transient
from notifications.policy import ManualClock
from notifications.providers.fcm import FcmProvider
from notifications.store import CAMPAIGNS, INBOX, OUTBOX
from tests.factories import Api, create_demo_user
from tests.notifications.conftest import dispatcher, insert_citizens
from tests.notifications.fcm_standin import FcmStandIn
from tests.notifications.test_campaigns import APPROVE, CREATE, _draft
from tests.reliability.conftest import FailPoints

USERS = 30
CHUNK = 10


async def test_campaign_delivery_cut_mid_job_finishes_exactly_once_into_inboxes(
    drill_api: Api, fail_points: FailPoints, fcm: FcmProvider, fcm_server: FcmStandIn
) -> None:
    api = drill_api
    users = await insert_citizens(api.state, USERS)
    for phone in ("13800000301", "13800000302"):
        await create_demo_user(api.state, phone)
    creator, checker = await api.token("13800000301"), await api.token("13800000302")
    created = await api.data(CREATE, _draft({"regionCodes": ["370211"]}), creator)
    campaign_id = created["createCampaign"]["campaign"]["id"]
    await api.data(APPROVE, {"id": campaign_id}, checker)

    clock = ManualClock(datetime.now(UTC))
    worker = dispatcher(api.state, fcm, clock, quiet="", chunk_size=CHUNK, lease_seconds=30)
    assert await worker.plan_step()
    first = await worker.claim()
    assert first is not None
    await worker.process(first)  # one job delivered normally
    job = await worker.claim()
    assert job is not None
    # The inbox copies of the second job are written; the database then goes away for every
    # later write (the job's progress, its DONE mark), past the driver's own retry.
    await fail_points.arm(
        {"skip": 1, "times": 1_000_000}, ["insert", "update", "findAndModify"], closeConnection=True
    )
    with pytest.raises(Exception) as failure:  # noqa: PT011 - any driver error; checked below
        await worker.process(job)
    await fail_points.off()
    assert is_transient(failure.value), failure.value
    assert await api.state.db[OUTBOX].count_documents({"status": "LEASED"}) == 1

    clock.advance(31)  # the dead attempt's lease runs out; this or any worker takes the job
    await worker.run_until_idle()
    campaign = await api.state.db[CAMPAIGNS].find_one({})
    assert campaign is not None
    assert campaign["status"] == "DONE"
    copies = Counter([d["user_id"] async for d in api.state.db[INBOX].find({}, {"user_id": 1})])
    assert set(copies) == set(users)
    assert set(copies.values()) == {1}  # exactly once into the inbox
    per_token = Counter(fcm_server.tokens_accepted())
    assert len(per_token) == USERS  # nothing lost
    assert sum(n - 1 for n in per_token.values()) <= CHUNK  # at most the batch in flight again
