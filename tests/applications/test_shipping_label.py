"""打印面单 (`shippingLabel`): the full address for the waybill, to the handling department's
clerks only, while the result is to be posted; each read audited and budgeted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.ids import object_id_from_global
from app.ratelimit import OPERATION_RATES, OperationLimits, Rate
from tests.applications.conftest import clerk_mutation, top_codes
from tests.applications.delivery_helpers import (
    ADDRESS,
    SHIP,
    act,
    approved_veteran,
    submit_veteran,
)
from tests.factories import Api

POST = {"method": "POST", "address": ADDRESS}
CONFIRM = clerk_mutation("confirmReceipt", "ConfirmReceiptInput")
LABEL = """query L($id: ID!) { shippingLabel(applicationId: $id) {
  applicationId receiptNumber matterName resultName recipientName phone region line } }"""


async def label(api: Api, token: str, app_id: str) -> dict[str, Any]:
    return await api.gql(LABEL, {"id": app_id}, token)


async def test_the_clerk_gets_the_full_address_audited_until_receipt(
    api: Api, citizen: str, clerk: str
) -> None:
    app_id = await approved_veteran(api, citizen, clerk, "label-0001", POST)
    answer = await label(api, clerk, app_id)
    assert "errors" not in answer, answer
    got = answer["data"]["shippingLabel"]
    assert got["applicationId"] == app_id
    assert got["receiptNumber"]
    assert got["matterName"]
    assert (got["recipientName"], got["phone"], got["region"], got["line"]) == (
        ADDRESS["recipientName"],
        ADDRESS["phone"],
        ADDRESS["region"],
        ADDRESS["line"],
    )
    [record] = (
        await api.state.db["audit_events"]
        .find({"action": "applications.delivery.label"})
        .to_list(10)
    )
    assert record["target"] == app_id
    assert record["details"] == {"purpose": "寄递", "shipped": False}
    assert "13800000001" not in str(record)
    assert ADDRESS["line"] not in str(record)
    # Reprinting after dispatch is allowed (a returned parcel), then receipt ends it.
    await act(api, SHIP, clerk, applicationId=app_id, carrier="EMS", trackingNumber="EA123456785CN")
    assert "errors" not in await label(api, clerk, app_id)
    assert (await act(api, CONFIRM, citizen, applicationId=app_id))["userErrors"] == []
    assert top_codes(await label(api, clerk, app_id)) == ["ALREADY_RECEIVED"]
    audited = await api.state.db["audit_events"].count_documents(
        {"action": "applications.delivery.label"}
    )
    assert audited == 2  # a refused read opened nothing and is not a label read


async def test_refusals_by_department_state_method_age_and_erasure(
    api: Api, citizen: str, clerk: str, other_clerk: str
) -> None:
    undecided = await submit_veteran(api, citizen, "label-bad-01", POST)
    electronic = await approved_veteran(api, citizen, clerk, "label-bad-02", None)
    posted = await approved_veteran(api, citizen, clerk, "label-bad-03", POST)
    assert top_codes(await label(api, clerk, undecided)) == ["INVALID_TRANSITION"]
    assert top_codes(await label(api, clerk, electronic)) == ["WRONG_DELIVERY_METHOD"]
    assert top_codes(await label(api, clerk, "QXBwbGljYXRpb246bm9uZQ")) == ["INVALID_ID"]
    # Another department's clerk and the applicant herself: FORBIDDEN, nothing shown.
    for token in (other_clerk, citizen):
        refused = await label(api, token, posted)
        assert top_codes(refused) == ["FORBIDDEN"]
        assert ADDRESS["line"] not in str(refused)
    # Dispatched more than 7 days ago: no longer an address book.
    await act(api, SHIP, clerk, applicationId=posted, carrier="EMS", trackingNumber="EA123456785CN")
    oid = object_id_from_global(posted, "Application")
    apps = api.state.db["applications"]
    doc = await apps.find_one({"_id": oid})
    assert doc is not None
    shipped_at = doc["delivery"]["shipment"]["shipped_at"]
    await apps.update_one(
        {"_id": oid}, {"$set": {"delivery.shipment.shipped_at": shipped_at - timedelta(days=8)}}
    )
    assert top_codes(await label(api, clerk, posted)) == ["LABEL_EXPIRED"]
    # An erased address (deleteMyAccount) cannot be printed.
    await apps.update_one(
        {"_id": oid},
        {"$set": {"delivery.address": None, "delivery.shipment.shipped_at": shipped_at}},
    )
    assert top_codes(await label(api, clerk, posted)) == ["ADDRESS_ERASED"]
    assert (
        await api.state.db["audit_events"].count_documents(
            {"action": "applications.delivery.label"}
        )
        == 0
    )


async def test_label_reads_are_budgeted_per_clerk(api: Api, citizen: str, clerk: str) -> None:
    app_id = await approved_veteran(api, citizen, clerk, "label-rate-1", POST)
    rates = {**OPERATION_RATES, "shippingLabel": Rate(2, 600)}
    api.state.operation_limits = OperationLimits(rates)
    for _ in range(2):
        assert "errors" not in await label(api, clerk, app_id)
    assert top_codes(await label(api, clerk, app_id)) == ["RATE_LIMITED"]
