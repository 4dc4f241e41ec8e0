"""出证: a clerk's approval puts the e-licence result into the wallet, once, and a failed
wallet write is finished by the worker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from app.ids import object_id_from_global
from applications.issuing import issue_result
from applications.models import Application
from applications.reminders import service_for
from tests.applications.conftest import errors
from tests.applications.delivery_helpers import (
    ACCEPT,
    APPROVE,
    INBOX,
    act,
    case,
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
