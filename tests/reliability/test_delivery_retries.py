"""结果送达 steps whose follow-up fails after the case moved (review 3, finding 4): the clerk's
retry finishes the notice and the audit instead of answering "nothing changed".

A real fault: `failCommand` closes the connection on every insert while armed, so the guarded
update commits and the notification job (or audit record) after it does not.
"""

from __future__ import annotations

from typing import Any

import pytest

from applications.store import APPLICATIONS
from notifications.store import INBOX, OUTBOX
from tests.applications.conftest import clerk_mutation
from tests.applications.delivery_helpers import ADDRESS, SHIP, act, approved_veteran
from tests.factories import Api
from tests.reliability.conftest import FailPoints, unavailable

PICKUP = clerk_mutation("recordPickup", "RecordPickupInput")
# Every insert fails until the drill turns it off (the guarded update is a findAndModify and
# passes): the notice's job, the driver's retry of it and the audit all fail, as in an outage.
FIRST_INSERTS = {"skip": 0, "times": 1_000_000}


@pytest.fixture
def api(drill_api: Api) -> Api:
    return drill_api  # the applications fixtures (catalogue, citizen, clerk) on the drill DB


async def _audits(api: Api, action: str) -> int:
    return await api.state.db["audit_events"].count_documents({"action": action})


async def test_a_shipment_whose_notice_failed_is_announced_on_retry(
    api: Api, citizen: str, clerk: str, fail_points: FailPoints
) -> None:
    delivery: dict[str, Any] = {"method": "POST", "address": ADDRESS}
    app_id = await approved_veteran(api, citizen, clerk, "ship-retry-01", delivery)
    ship = {"applicationId": app_id, "carrier": "EMS", "trackingNumber": "EA123456785CN"}
    await fail_points.arm(FIRST_INSERTS, ["insert"], closeConnection=True)
    first = await api.gql(SHIP, {"input": ship}, clerk)
    await fail_points.off()
    assert unavailable(first), first
    db = api.state.db
    stored = await db[APPLICATIONS].find_one({"delivery.shipment.tracking_number": "EA123456785CN"})
    assert stored is not None  # the guarded update committed before the notice failed
    shipped = {"_id": {"$regex": "^notify:shipment:"}}
    assert await db[OUTBOX].count_documents(shipped) == 0
    assert await _audits(api, "applications.delivery.shipment") == 0

    again = await act(api, SHIP, clerk, **ship)
    assert again["userErrors"] == []
    assert await db[INBOX].count_documents({"title": "办理结果已寄出"}) == 1
    assert await db[OUTBOX].count_documents(shipped) == 1
    assert await _audits(api, "applications.delivery.shipment") == 1
    # A third identical request (the answer lost, say) repeats nothing.
    assert (await act(api, SHIP, clerk, **ship))["userErrors"] == []
    assert await db[OUTBOX].count_documents(shipped) == 1
    assert await _audits(api, "applications.delivery.shipment") == 1


async def test_a_pickup_whose_audit_failed_is_audited_on_retry(
    api: Api, citizen: str, clerk: str, fail_points: FailPoints
) -> None:
    app_id = await approved_veteran(api, citizen, clerk, "pickup-retry-01", {"method": "PICKUP"})
    await fail_points.arm(FIRST_INSERTS, ["insert"], closeConnection=True)
    first = await api.gql(PICKUP, {"input": {"applicationId": app_id}}, clerk)
    await fail_points.off()
    assert unavailable(first), first
    stored = await api.state.db[APPLICATIONS].find_one({"delivery.collected_at": {"$ne": None}})
    assert stored is not None
    assert await _audits(api, "applications.delivery.pickup") == 0

    assert (await act(api, PICKUP, clerk, applicationId=app_id))["userErrors"] == []
    assert await _audits(api, "applications.delivery.pickup") == 1
    again = await act(api, PICKUP, clerk, applicationId=app_id)
    assert [e["code"] for e in again["userErrors"]] == ["ALREADY_COLLECTED"]
    assert await _audits(api, "applications.delivery.pickup") == 1
