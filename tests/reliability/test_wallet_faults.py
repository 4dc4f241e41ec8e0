"""出证 when the wallet write fails (moved from tests/applications/test_issuing.py, review 3
finding 12): a real fault instead of a Python stand-in for the cards service.

`failCommand` fails the approval's third `insert` — the first two are the approval notice's
outbox job and inbox copy, the third the wallet's: the licence (or, on a database with no status
list yet, the list's creation before it) — so the decision commits and the licence write fails,
as in a wallet (database) outage.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from bson import ObjectId

from app import erasures
from app.ids import object_id_from_global
from applications.deadlines import CHINA
from applications.issuing import issue_result
from applications.models import Application
from applications.reminders import housekeeping, service_for
from applications.service import ApplicationService
from auth.permissions import Viewer
from tests.applications.delivery_helpers import (
    ACCEPT,
    INBOX,
    act,
    case,
    clerk_viewer,
    submit_veteran,
    wallet_codes,
)
from tests.factories import Api
from tests.reliability.conftest import FailPoints


@pytest.fixture
def api(drill_api: Api) -> Api:
    return drill_api  # the applications fixtures (catalogue, citizen, clerk) on the drill DB


async def approve_with_wallet_down(
    svc: ApplicationService, fail_points: FailPoints, viewer: Viewer, oid: ObjectId
) -> Application:
    await fail_points.arm({"skip": 2, "times": 1}, ["insert"], errorCode=2)
    try:
        approved = await svc.approve(viewer, oid, "符合条件")
    finally:
        await fail_points.off()
    assert approved.result_pending  # the licence write failed: owed
    return approved


async def test_a_failed_wallet_write_is_finished_by_the_worker(
    api: Api, citizen: str, clerk: str, fail_points: FailPoints
) -> None:
    app_id = await submit_veteran(api, citizen, "veteran-0002")
    await act(api, ACCEPT, clerk, applicationId=app_id)
    svc = service_for(api.state)
    oid = object_id_from_global(app_id, "Application")

    approved = await approve_with_wallet_down(svc, fail_points, await clerk_viewer(api), oid)
    assert approved.status.value == "APPROVED"  # the decision stands ...
    assert approved.result_pending  # ... and its licence is owed
    assert await wallet_codes(api, citizen) == []
    seen = await case(api, citizen, app_id)
    assert seen is not None
    assert seen["result"]["delivery"]["status"] == "PENDING"
    assert seen["result"]["licenceId"] is None

    now = datetime.now(CHINA)
    assert (await housekeeping(svc, now))["results_delivered"] == 1
    assert (await housekeeping(svc, now))["results_delivered"] == 0
    assert await wallet_codes(api, citizen) == ["TYJRYDZ"]
    seen = await case(api, citizen, app_id)
    assert seen is not None
    assert seen["result"]["delivery"]["status"] == "DELIVERED"
    stored = await api.state.db["applications"].find_one({"_id": oid})
    assert stored is not None
    assert "result_pending" not in stored
    titles = [n["title"] for n in (await api.data(INBOX, token=citizen))["inbox"]["nodes"]]
    assert titles.count("电子证照已发放") == 1


async def test_a_revoked_case_gets_no_late_licence(
    api: Api, citizen: str, clerk: str, fail_points: FailPoints
) -> None:
    app_id = await submit_veteran(api, citizen, "veteran-0003")
    await act(api, ACCEPT, clerk, applicationId=app_id)
    svc = service_for(api.state)
    viewer = await clerk_viewer(api)
    oid = object_id_from_global(app_id, "Application")
    await approve_with_wallet_down(svc, fail_points, viewer, oid)
    await svc.revoke(viewer, oid, "核实不符合条件")
    assert (await housekeeping(svc, datetime.now(CHINA)))["results_delivered"] == 0
    assert await wallet_codes(api, citizen) == []


async def test_an_erased_applicant_gets_no_owed_licence_and_no_notice(
    api: Api, citizen: str, clerk: str, fail_points: FailPoints
) -> None:
    """Review 3 finding 1: an approved case does not block an erasure; the licence a failed
    wallet write left owed must never be issued in the erased person's name."""
    app_id = await submit_veteran(api, citizen, "veteran-0005")
    await act(api, ACCEPT, clerk, applicationId=app_id)
    svc = service_for(api.state)
    oid = object_id_from_global(app_id, "Application")
    approved = await approve_with_wallet_down(svc, fail_points, await clerk_viewer(api), oid)
    assert approved.result_pending
    user_id = approved.applicant_id
    now = datetime.now(UTC)
    erasure = await erasures.begin(api.state, user_id, ("CITIZEN",), [], now)
    assert erasure is not None
    await erasures.check(api.state, erasure, now)  # an approved case is not open
    await erasures.run(api.state, erasure, now)
    assert await api.state.db["users"].count_documents({"_id": user_id}) == 0

    assert (await housekeeping(svc, datetime.now(CHINA)))["results_delivered"] == 0
    stored = await api.state.db["applications"].find_one({"_id": oid})
    assert stored is not None
    assert not stored.get("result_pending")  # the erasure cleared it, as a revocation does
    # Even a request still holding the case in memory issues nothing (account gone).
    assert (await issue_result(svc, approved)).result_pending
    assert await api.state.db["licences"].count_documents({"holder_id": user_id}) == 0
    copies = {"user_id": user_id, "erased": {"$ne": True}}  # not the erasure's tombstones
    assert await api.state.db["notifications"].count_documents(copies) == 0


async def test_a_delivery_landing_on_a_revoked_case_records_no_event(
    api: Api, citizen: str, clerk: str, fail_points: FailPoints
) -> None:
    """Review 3 finding 10: record_delivery pushed RESULT_DELIVERED (APPROVED → APPROVED) onto a
    case revoked meanwhile."""
    app_id = await submit_veteran(api, citizen, "veteran-0006")
    await act(api, ACCEPT, clerk, applicationId=app_id)
    svc = service_for(api.state)
    viewer = await clerk_viewer(api)
    oid = object_id_from_global(app_id, "Application")
    await approve_with_wallet_down(svc, fail_points, viewer, oid)  # still pending
    await svc.revoke(viewer, oid, "核实不符合条件")
    await svc.store.record_delivery(oid, "WALLET", datetime.now(UTC))  # the late delivery
    stored = await api.state.db["applications"].find_one({"_id": oid})
    assert stored is not None
    assert stored["status"] == "REVOKED"
    assert "RESULT_DELIVERED" not in [e["action"] for e in stored["timeline"]]
