"""出证: a clerk's approval puts the e-licence result into the wallet, once, and a failed
wallet write is finished by the worker."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

from app import erasures
from app.ids import object_id_from_global
from applications.deadlines import CHINA
from applications.issuing import issue_result
from applications.models import Application
from applications.reminders import housekeeping, service_for
from applications.results import WalletSink
from tests.applications.conftest import errors
from tests.applications.delivery_helpers import (
    ACCEPT,
    APPROVE,
    INBOX,
    act,
    case,
    clerk_viewer,
    submit_veteran,
    wallet_codes,
)
from tests.factories import Api


async def test_manual_approval_issues_the_licence_once_under_a_double_approve(
    api: Api, citizen: str, clerk: str
) -> None:
    app_id = await submit_veteran(api, citizen, "veteran-0001")
    await act(api, ACCEPT, clerk, applicationId=app_id)
    first, second = await asyncio.gather(
        act(api, APPROVE, clerk, applicationId=app_id),
        act(api, APPROVE, clerk, applicationId=app_id),
    )
    outcomes = sorted([errors(first), errors(second)])
    assert outcomes[0] == []  # one approval won ...
    assert outcomes[1] in (
        [("applicationId", "CONCURRENT_CHANGE")],
        [("applicationId", "INVALID_TRANSITION")],
    )  # ... and the other changed nothing
    assert await wallet_codes(api, citizen) == ["TYJRYDZ"]
    seen = await case(api, citizen, app_id)
    assert seen is not None
    result = seen["result"]
    assert result["name"] == "退役军人优待证"
    assert result["licenceTypeCode"] == "TYJRYDZ"
    assert result["licenceId"] is not None
    assert result["deliveredAt"] is not None
    assert result["delivery"]["method"] == "ELECTRONIC"
    assert result["delivery"]["status"] == "DELIVERED"
    actions = [e["action"] for e in seen["timeline"]]
    assert actions[-3:] == ["APPROVE", "APPROVE", "RESULT_DELIVERED"]
    titles = [n["title"] for n in (await api.data(INBOX, token=citizen))["inbox"]["nodes"]]
    assert titles.count("电子证照已发放") == 1

    # A retry from a stale read (the worker, a second process) finds the licence it issued.
    oid = object_id_from_global(app_id, "Application")
    stale = await api.state.db["applications"].find_one({"_id": oid})
    assert stale is not None
    stale["result"]["delivery"] = None
    stale["result_pending"] = True
    svc = service_for(api.state)
    again = Application.from_document(stale)
    await asyncio.gather(issue_result(svc, again), issue_result(svc, again))
    assert await wallet_codes(api, citizen) == ["TYJRYDZ"]
    stored = await api.state.db["applications"].find_one({"_id": oid})
    assert stored is not None
    assert [e["action"] for e in stored["timeline"]].count("RESULT_DELIVERED") == 1
    titles = [n["title"] for n in (await api.data(INBOX, token=citizen))["inbox"]["nodes"]]
    assert titles.count("电子证照已发放") == 1


class WalletFailingOnce:
    """The real cards service, except that its first `issue_licence` fails (a wallet outage)."""

    def __init__(self, cards: Any) -> None:
        self.cards = cards
        self.calls = 0

    async def issue_licence(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("wallet unavailable")
        return await self.cards.issue_licence(*args, **kwargs)


async def test_a_failed_wallet_write_is_finished_by_the_worker(
    api: Api, citizen: str, clerk: str
) -> None:
    app_id = await submit_veteran(api, citizen, "veteran-0002")
    await act(api, ACCEPT, clerk, applicationId=app_id)
    real = service_for(api.state)
    cards = WalletFailingOnce(api.state.cards_service())
    svc = dataclasses.replace(real, sink=WalletSink(cards, real.store.record_delivery))
    oid = object_id_from_global(app_id, "Application")

    approved = await svc.approve(await clerk_viewer(api), oid, "符合条件")
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


async def test_a_revoked_case_gets_no_late_licence(api: Api, citizen: str, clerk: str) -> None:
    app_id = await submit_veteran(api, citizen, "veteran-0003")
    await act(api, ACCEPT, clerk, applicationId=app_id)
    real = service_for(api.state)
    cards = WalletFailingOnce(api.state.cards_service())
    svc = dataclasses.replace(real, sink=WalletSink(cards, real.store.record_delivery))
    viewer = await clerk_viewer(api)
    oid = object_id_from_global(app_id, "Application")
    await svc.approve(viewer, oid, None)
    await svc.revoke(viewer, oid, "核实不符合条件")
    assert (await housekeeping(svc, datetime.now(CHINA)))["results_delivered"] == 0
    assert await wallet_codes(api, citizen) == []


async def test_approval_without_a_licence_result_records_the_result_only(
    api: Api, citizen: str, clerk: str
) -> None:
    from tests.applications.test_process import submit  # 个体工商户设立登记: 营业执照 (paper)

    app_id = await submit(api, citizen, "business-result-01")
    await act(api, ACCEPT, clerk, applicationId=app_id)
    await act(api, APPROVE, clerk, applicationId=app_id)
    seen = await case(api, citizen, app_id)
    assert seen is not None
    assert seen["result"]["name"] == "营业执照"
    assert seen["result"]["licenceTypeCode"] is None
    assert seen["result"]["delivery"] == {
        "method": "ELECTRONIC",
        "status": "DELIVERED",
        "carrier": None,
        "trackingNumber": None,
        "shippedAt": None,
        "receivedAt": None,
        "collectedAt": None,
        "address": None,
    }
    assert await wallet_codes(api, citizen) == []


async def test_an_erased_applicant_gets_no_owed_licence_and_no_notice(
    api: Api, citizen: str, clerk: str
) -> None:
    """Review 3 finding 1: an approved case does not block an erasure; the licence a failed
    wallet write left owed must never be issued in the erased person's name."""
    app_id = await submit_veteran(api, citizen, "veteran-0005")
    await act(api, ACCEPT, clerk, applicationId=app_id)
    real = service_for(api.state)
    cards = WalletFailingOnce(api.state.cards_service())
    svc = dataclasses.replace(real, sink=WalletSink(cards, real.store.record_delivery))
    oid = object_id_from_global(app_id, "Application")
    approved = await svc.approve(await clerk_viewer(api), oid, "符合条件")
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


async def test_notify_writes_nothing_for_an_account_being_erased(api: Api) -> None:
    """Whichever domain asks (a shipment corrected after the erasure, a late status notice),
    `notify()` writes no inbox copy for an account that is gone or being erased."""
    from notifications import service as notifications_service
    from tests.factories import create_demo_user

    user = await create_demo_user(api.state, "13800000001")
    data = {"matter_name": "x", "receipt_number": "1", "status": "已办结", "application_id": "A"}
    await api.state.db["users"].update_one(
        {"_id": user.id}, {"$set": {"erasing_at": datetime.now(UTC)}}
    )
    db = api.state.db
    assert (
        await notifications_service.notify(db, user.id, "APPLICATION_STATUS_CHANGED", data) is None
    )
    await db["users"].delete_one({"_id": user.id})
    assert (
        await notifications_service.notify(db, user.id, "APPLICATION_STATUS_CHANGED", data) is None
    )
    assert await db["notifications"].count_documents({"user_id": user.id}) == 0


async def test_a_delivery_landing_on_a_revoked_case_records_no_event(
    api: Api, citizen: str, clerk: str
) -> None:
    """Review 3 finding 10: record_delivery pushed RESULT_DELIVERED (APPROVED → APPROVED) onto a
    case revoked meanwhile."""
    app_id = await submit_veteran(api, citizen, "veteran-0006")
    await act(api, ACCEPT, clerk, applicationId=app_id)
    real = service_for(api.state)
    cards = WalletFailingOnce(api.state.cards_service())
    svc = dataclasses.replace(real, sink=WalletSink(cards, real.store.record_delivery))
    viewer = await clerk_viewer(api)
    oid = object_id_from_global(app_id, "Application")
    await svc.approve(viewer, oid, None)  # the wallet write fails: still pending
    await svc.revoke(viewer, oid, "核实不符合条件")
    await real.store.record_delivery(oid, "WALLET", datetime.now(UTC))  # the late delivery
    stored = await api.state.db["applications"].find_one({"_id": oid})
    assert stored is not None
    assert stored["status"] == "REVOKED"
    assert "RESULT_DELIVERED" not in [e["action"] for e in stored["timeline"]]
