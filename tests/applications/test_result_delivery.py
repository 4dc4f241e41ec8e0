"""结果送达: the delivery choice at submission, the postal address as personal data, and the
clerk's shipment record (with correction), pickup and the applicant's receipt."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.errors import DomainError
from app.ids import object_id_from_global
from applications import personal_data
from tests.applications.conftest import (
    RENTAL,
    SUBMIT,
    clerk_mutation,
    errors,
    top_codes,
)
from tests.applications.delivery_helpers import (
    ACCEPT,
    ADDRESS,
    APPROVE,
    INBOX,
    SHIP,
    act,
    approved_veteran,
    case,
    submit_veteran,
    veteran_input,
)
from tests.factories import Api, create_demo_user

POST = {"method": "POST", "address": ADDRESS}
CONFIRM = clerk_mutation("confirmReceipt", "ConfirmReceiptInput")
PICKUP = clerk_mutation("recordPickup", "RecordPickupInput")
QUEUE = "{ shippingQueue { nodes { id result { delivery { status address { phone } } } } } }"
SAVE_DRAFT = """
mutation D($input: SaveApplicationDraftInput!) {
  saveApplicationDraft(input: $input) { application { id status } userErrors { code } } }"""


async def _submit(api: Api, token: str, sub: dict[str, Any]) -> dict[str, Any]:
    return dict((await api.data(SUBMIT, {"input": sub}, token))["submitApplication"])


async def test_post_choice_errors_come_per_field_with_the_form_and_change_nothing(
    api: Api, citizen: str
) -> None:
    bad = {
        "method": "POST",
        "address": {"recipientName": " ", "phone": "1234", "region": "370200", "line": "短"},
    }
    payload = await _submit(api, citizen, veteran_input("post-bad-0001", bad, phone="12"))
    assert payload["application"] is None
    assert sorted(errors(payload)) == [
        ("form.phone", "INVALID_PHONE"),
        ("resultDelivery.address.line", "TOO_SHORT"),
        ("resultDelivery.address.phone", "INVALID_PHONE"),
        ("resultDelivery.address.recipientName", "REQUIRED"),
        ("resultDelivery.address.region", "INVALID_REGION"),
    ]
    assert all(e["message"] for e in payload["userErrors"])
    no_address = await _submit(api, citizen, veteran_input("post-bad-0002", {"method": "POST"}))
    assert errors(no_address) == [("resultDelivery.address", "ADDRESS_REQUIRED")]
    # 公共租赁住房申请 names no paper result: only electronic delivery is offered.
    rental = veteran_input("post-bad-0003", POST)
    rental["matterCode"] = RENTAL
    refused = await _submit(api, citizen, rental)
    assert ("resultDelivery.method", "DELIVERY_METHOD_NOT_OFFERED") in errors(refused)
    assert await api.state.db["applications"].count_documents({}) == 0
    attached = await api.state.db["material_uploads"].count_documents(
        {"application_id": {"$ne": None}}
    )
    assert attached == 0


async def test_the_guide_lists_the_methods_and_the_default_needs_no_address(
    api: Api, citizen: str
) -> None:
    guide = await api.data(
        "query($c: String!) { matter(code: $c) { resultDeliveryMethods } }", {"c": RENTAL}
    )
    assert guide["matter"]["resultDeliveryMethods"] == ["ELECTRONIC"]
    app_id = await submit_veteran(api, citizen, "default-0001")
    seen = await case(api, citizen, app_id)
    assert seen is not None
    assert seen["resultDeliveryMethod"] == "ELECTRONIC"
    assert seen["result"] is None  # no decision yet


async def test_a_postal_address_is_sealed_masked_exported_and_erased(
    api: Api, citizen: str, clerk: str
) -> None:
    app_id = await submit_veteran(api, citizen, "post-0001", POST)
    oid = object_id_from_global(app_id, "Application")
    stored = await api.state.db["applications"].find_one({"_id": oid})
    assert stored is not None
    as_text = json.dumps(stored, default=str, ensure_ascii=False)
    assert "13800000001" not in as_text.replace(stored["form"]["phone"], "")  # form: own data
    assert ADDRESS["line"] not in as_text
    assert "张三明" not in json.dumps(stored["delivery"], default=str, ensure_ascii=False)
    seen = await case(api, citizen, app_id)
    assert seen is not None
    assert seen["resultDeliveryMethod"] == "POST"
    await act(api, ACCEPT, clerk, applicationId=app_id)
    export = (await api.data("{ exportMyData }", token=citizen))["exportMyData"]
    [exported] = [a for a in export["applications"]["applications"] if a["_id"] == str(oid)]
    assert exported["delivery"]["address"] == {
        "recipient_name": "张三明",
        "phone": "13800000001",
        "line": ADDRESS["line"],
        "region": "370202",
    }
    # Once decided, a result still to be posted to the address blocks erasure.
    await act(api, APPROVE, clerk, applicationId=app_id)
    with pytest.raises(DomainError) as blocked:
        await personal_data.check_erasable(api.state.db, stored["applicant_id"])
    assert blocked.value.code == "RESULT_AWAITING_DELIVERY"
    await act(api, SHIP, clerk, applicationId=app_id, carrier="EMS", trackingNumber="EA123456785CN")
    await personal_data.check_erasable(api.state.db, stored["applicant_id"])
    await personal_data.erase(api.state.db, stored["applicant_id"], stored["created_at"], None)
    after = await api.state.db["applications"].find_one({"_id": oid})
    assert after is not None
    assert after["delivery"]["address"] is None
    assert after["delivery"]["shipment"]["tracking_number"] == "EA123456785CN"  # case file


async def test_record_shipment_then_correct_it_and_the_applicant_confirms(
    api: Api, citizen: str, clerk: str
) -> None:
    app_id = await approved_veteran(api, citizen, clerk, "ship-0001", POST)
    seen = await case(api, citizen, app_id)
    assert seen is not None
    assert seen["result"]["delivery"]["status"] == "READY_TO_SHIP"
    shipped = await act(
        api, SHIP, clerk, applicationId=app_id, carrier="EMS", trackingNumber="ea 1234 5678 5cn"
    )
    assert shipped["userErrors"] == []
    seen = await case(api, citizen, app_id)
    assert seen is not None
    delivery = seen["result"]["delivery"]
    assert delivery["method"] == "POST"
    assert delivery["status"] == "SHIPPED"
    assert (delivery["carrier"], delivery["trackingNumber"]) == ("EMS", "EA123456785CN")
    assert delivery["shippedAt"] is not None
    assert delivery["address"] == {
        "recipientName": "张*明",
        "phone": "138****0001",
        "region": "370202",
        "line": "香港中路10****",
    }
    assert seen["timeline"][-1]["action"] == "SHIPMENT"
    assert (await api.data(QUEUE, token=clerk))["shippingQueue"]["nodes"] == []
    inbox = (await api.data(INBOX, token=citizen))["inbox"]["nodes"]
    [notice] = [n for n in inbox if n["title"] == "办理结果已寄出"]
    assert "EA123456785CN" in notice["body"]
    audited = await api.state.db["audit_events"].distinct("action")
    assert {"api.recordShipment", "applications.delivery.shipment"} <= set(audited)

    # The same shipment again is a retry: nothing changes.
    again = await act(
        api, SHIP, clerk, applicationId=app_id, carrier="EMS", trackingNumber="EA123456785CN"
    )
    assert again["userErrors"] == []
    # A mistyped number is corrected, with the previous one kept on the timeline.
    fixed = await act(
        api, SHIP, clerk, applicationId=app_id, carrier="SF", trackingNumber="SF1234567890123"
    )
    assert fixed["userErrors"] == []
    seen = await case(api, citizen, app_id)
    assert seen is not None
    assert [e["action"] for e in seen["timeline"]].count("SHIPMENT") == 1
    last = seen["timeline"][-1]
    assert last["action"] == "SHIPMENT_CORRECTED"
    assert last["data"]["previous"] == {"carrier": "EMS", "trackingNumber": "EA123456785CN"}
    assert seen["result"]["delivery"]["trackingNumber"] == "SF1234567890123"
    inbox = (await api.data(INBOX, token=citizen))["inbox"]["nodes"]
    assert sum(n["title"] == "办理结果已寄出" for n in inbox) == 2

    # The applicant confirms receipt (once); after that the shipment is final.
    confirmed = await act(api, CONFIRM, citizen, applicationId=app_id)
    assert confirmed["userErrors"] == []
    twice = await act(api, CONFIRM, citizen, applicationId=app_id)
    assert errors(twice) == [("applicationId", "ALREADY_RECEIVED")]
    late = await act(
        api, SHIP, clerk, applicationId=app_id, carrier="SF", trackingNumber="SF1234567890124"
    )
    assert errors(late) == [("applicationId", "ALREADY_RECEIVED")]
    seen = await case(api, citizen, app_id)
    assert seen is not None
    assert seen["result"]["delivery"]["status"] == "RECEIVED"


async def test_record_shipment_refusals(
    api: Api, citizen: str, clerk: str, other_clerk: str
) -> None:
    electronic = await approved_veteran(api, citizen, clerk, "ship-bad-01", None)
    undecided = await submit_veteran(api, citizen, "ship-bad-02", POST)
    posted = await approved_veteran(api, citizen, clerk, "ship-bad-03", POST)
    # 待邮寄: only the approved POST case, masked, and only for its department's clerks.
    [waiting] = (await api.data(QUEUE, token=clerk))["shippingQueue"]["nodes"]
    assert waiting["id"] == posted
    assert waiting["result"]["delivery"] == {
        "status": "READY_TO_SHIP",
        "address": {"phone": "138****0001"},
    }
    assert (await api.data(QUEUE, token=other_clerk))["shippingQueue"]["nodes"] == []

    def ship(app_id: str, carrier: str = "EMS", number: str = "EA123456785CN") -> dict[str, Any]:
        return {"applicationId": app_id, "carrier": carrier, "trackingNumber": number}

    cases = [
        (ship(undecided), ("applicationId", "INVALID_TRANSITION")),
        (ship(electronic), ("applicationId", "WRONG_DELIVERY_METHOD")),
        (ship(posted, number="EA123456784CN"), ("trackingNumber", "INVALID_TRACKING_NUMBER")),
        (ship(posted, "SF", "12345"), ("trackingNumber", "INVALID_TRACKING_NUMBER")),
        (ship("QXBwbGljYXRpb246bm9uZQ"), ("applicationId", "INVALID_ID")),
    ]
    for given, expected in cases:
        payload = (await api.data(SHIP, {"input": given}, clerk))["recordShipment"]
        assert errors(payload) == [expected], (given, payload)
    # Another department's clerk, and citizens, are refused outright.
    for token in (other_clerk, citizen):
        answer = await api.gql(SHIP, {"input": ship(posted)}, token)
        assert top_codes(answer) == ["FORBIDDEN"]
    seen = await case(api, citizen, posted)
    assert seen is not None
    assert seen["result"]["delivery"]["status"] == "READY_TO_SHIP"
    assert "SHIPMENT" not in [e["action"] for e in seen["timeline"]]


async def test_another_citizen_sees_nothing_and_cannot_confirm(
    api: Api, citizen: str, clerk: str
) -> None:
    app_id = await approved_veteran(api, citizen, clerk, "ship-priv-01", POST)
    await act(api, SHIP, clerk, applicationId=app_id, carrier="EMS", trackingNumber="EA123456785CN")
    await create_demo_user(api.state, "13800000003")
    stranger = await api.token("13800000003")
    assert await case(api, stranger, app_id) is None
    refused = await act(api, CONFIRM, stranger, applicationId=app_id)
    assert errors(refused) == [("applicationId", "NOT_FOUND")]
    inbox = (await api.data(INBOX, token=stranger))["inbox"]["nodes"]
    assert not [n for n in inbox if "EA123456785CN" in n["body"]]


async def test_pickup_is_recorded_once(api: Api, citizen: str, clerk: str) -> None:
    app_id = await approved_veteran(api, citizen, clerk, "pickup-0001", {"method": "PICKUP"})
    seen = await case(api, citizen, app_id)
    assert seen is not None
    assert seen["result"]["delivery"]["status"] == "READY_FOR_PICKUP"
    assert seen["result"]["delivery"]["address"] is None
    assert (await act(api, PICKUP, clerk, applicationId=app_id))["userErrors"] == []
    again = await act(api, PICKUP, clerk, applicationId=app_id)
    assert errors(again) == [("applicationId", "ALREADY_COLLECTED")]
    seen = await case(api, citizen, app_id)
    assert seen is not None
    assert seen["result"]["delivery"]["status"] == "COLLECTED"
    shipped = await act(
        api, SHIP, clerk, applicationId=app_id, carrier="EMS", trackingNumber="EA123456785CN"
    )
    assert errors(shipped) == [("applicationId", "WRONG_DELIVERY_METHOD")]


async def test_a_draft_keeps_its_choice_until_submission(api: Api, citizen: str) -> None:
    draft = veteran_input("unused-key-1", POST)
    saved = await api.data(
        SAVE_DRAFT,
        {
            "input": {
                "matterCode": draft["matterCode"],
                "form": draft["form"],
                "resultDelivery": POST,
            }
        },
        citizen,
    )
    draft_id = saved["saveApplicationDraft"]["application"]["id"]
    stored = await api.state.db["applications"].find_one(
        {"_id": object_id_from_global(draft_id, "Application")}
    )
    assert stored is not None
    assert ADDRESS["line"] not in json.dumps(stored, default=str)
    sub = veteran_input("draft-post-01")
    sub["draftId"] = draft_id
    payload = await _submit(api, citizen, sub)
    assert payload["userErrors"] == []
    seen = await case(api, citizen, draft_id)
    assert seen is not None
    assert seen["resultDeliveryMethod"] == "POST"
    after = await api.state.db["applications"].find_one({"_id": stored["_id"]})
    assert after is not None
    assert "draft_delivery" not in after
