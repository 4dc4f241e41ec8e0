"""Forms, prefill, submission, idempotency and 秒批, through HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

from auth.identity_numbers import with_check_digit
from tests.applications.conftest import (
    BUSINESS,
    ELDER_CARD,
    PROPERTY,
    SUBMIT,
    business_input,
    elder_input,
    elder_materials_of,
    errors,
    ref,
)
from tests.factories import Api

ELDER_ID = with_check_digit("37020319580908782")
CITIZEN_ID = with_check_digit("37020219850615123")

FORM = """
query Form($code: String!, $situation: String) {
  matter(code: $code) { form(situation: $situation) { schema } }
}"""


async def count(api: Api) -> int:
    return await api.state.db["applications"].count_documents({})


async def test_form_schema_has_chinese_labels_order_and_agent_section(
    api: Api, citizen: str
) -> None:
    data = await api.data(FORM, {"code": ELDER_CARD})
    schema = data["matter"]["form"]["schema"]
    assert schema["properties"]["idNumber"]["title"] == "公民身份号码"
    assert schema["properties"]["idNumber"]["x-format"] == "id-number"
    assert set(schema["required"]) >= {"applicantName", "idNumber", "phone"}
    orders = [p["x-order"] for p in schema["properties"].values()]
    assert len(set(orders)) == len(orders)
    agent = (await api.data(FORM, {"code": BUSINESS, "situation": "02"}))["matter"]["form"]
    assert "agentIdNumber" in agent["schema"]["required"]
    # A matter for people and organisations gets a conditional section per applicant type.
    both = (await api.data(FORM, {"code": PROPERTY}))["matter"]["form"]["schema"]
    assert both["properties"]["applicantType"]["enum"] == ["个人", "法人"]
    assert both["allOf"][1]["then"]["required"] == [
        "organizationName",
        "uscc",
        "legalRepresentative",
    ]


async def test_prefill_comes_from_the_applicants_identity(api: Api, elder: str) -> None:
    query = "query P($c: String!) { applicationPrefill(matterCode: $c) }"
    data = (await api.data(query, {"c": ELDER_CARD}, elder))["applicationPrefill"]
    assert data == {"applicantName": "王秀英", "idNumber": ELDER_ID, "phone": "13800000003"}
    unknown = await api.gql(query, {"c": "NOPE000000"}, elder)
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_every_failing_field_is_reported_and_nothing_is_written(
    api: Api, citizen: str
) -> None:
    bad = business_input(
        "bad-form-0001",
        idNumber=CITIZEN_ID[:17] + ("1" if CITIZEN_ID[17] != "1" else "2"),
        phone="12345",
        businessName="",
        colour="red",
        businessScope=42,
    )
    payload = (await api.data(SUBMIT, {"input": bad}, citizen))["submitApplication"]
    assert payload["application"] is None
    assert sorted(errors(payload)) == sorted(
        [
            ("form.idNumber", "INVALID_ID_NUMBER"),
            ("form.phone", "INVALID_PHONE"),
            ("form.colour", "UNKNOWN_FIELD"),
            ("form.businessScope", "INVALID_TYPE"),
            ("form.businessName", "REQUIRED"),
        ]
    )
    assert all(e["message"] for e in payload["userErrors"])
    assert await count(api) == 0


async def test_uscc_and_dates_are_checked(api: Api, citizen: str) -> None:
    query = """mutation S($input: SubmitApplicationInput!) {
      submitApplication(input: $input) { application { id } userErrors { field code } } }"""
    form = {
        "companyName": "青岛海鸥科技有限公司",
        "companyType": "合伙公司",
        "registeredCapital": 0,
        "businessScope": "软件开发",
        "address": "青岛市市南区",
        "legalRepresentative": "张三明",
        "idNumber": CITIZEN_ID,
        "phone": "+86 138-0000-0001",
        "plannedOpeningDate": "2026-02-30",
    }
    sub = {"matterCode": "3702020100082", "idempotencyKey": "company-0001", "form": form}
    payload = (await api.data(query, {"input": sub}, citizen))["submitApplication"]
    found = errors(payload)
    assert ("form.companyType", "NOT_IN_ENUM") in found
    assert ("form.registeredCapital", "OUT_OF_RANGE") in found
    assert ("form.plannedOpeningDate", "INVALID_DATE") in found
    assert ("materials", "MISSING_MATERIAL") in found
    assert not any(f == "form.phone" for f, _ in found)  # +86 and separators are fine


async def test_unknown_matter_situation_and_materials(api: Api, citizen: str) -> None:
    unknown = {**business_input("unknown-0001"), "matterCode": "9999999999999"}
    payload = (await api.data(SUBMIT, {"input": unknown}, citizen))["submitApplication"]
    assert errors(payload) == [("matterCode", "NOT_FOUND")]
    wrong = {**business_input("unknown-0002"), "situation": "99"}
    payload = (await api.data(SUBMIT, {"input": wrong}, citizen))["submitApplication"]
    assert errors(payload) == [("situation", "UNKNOWN_SITUATION")]
    mats = business_input("unknown-0003")
    mats["materials"] = [
        {"name": "结婚证", "provision": "UPLOAD", "reference": "x"},
        {"name": "经营者身份证明", "provision": "LICENCE", "reference": "lic-1"},
        {"name": "经营场所使用证明", "provision": "COMMITMENT"},
    ]
    payload = (await api.data(SUBMIT, {"input": mats}, citizen))["submitApplication"]
    assert sorted(errors(payload)) == sorted(
        [
            ("materials[0].name", "UNKNOWN_MATERIAL"),
            ("materials[1].provision", "LICENCE_NOT_ACCEPTED"),
            ("materials[2].provision", "COMMITMENT_NOT_ALLOWED"),
            ("materials", "MISSING_MATERIAL"),
            ("materials", "MISSING_MATERIAL"),
            ("materials", "MISSING_MATERIAL"),
        ]
    )
    agent = {**business_input("unknown-0004"), "onBehalfOf": "VXNlcjox"}
    payload = (await api.data(SUBMIT, {"input": agent}, citizen))["submitApplication"]
    assert errors(payload) == [("onBehalfOf", "AGENT_NOT_AUTHORISED")]
    short = business_input("short")
    payload = (await api.data(SUBMIT, {"input": short}, citizen))["submitApplication"]
    assert errors(payload) == [("idempotencyKey", "INVALID_IDEMPOTENCY_KEY")]
    assert await count(api) == 0


async def test_manual_submission_gets_receipt_and_working_day_deadline(
    api: Api, citizen: str
) -> None:
    payload = (await api.data(SUBMIT, {"input": business_input("manual-0001")}, citizen))[
        "submitApplication"
    ]
    app = payload["application"]
    assert payload["userErrors"] == []
    assert app["status"] == "SUBMITTED"
    assert app["receiptNumber"].startswith("370202")
    assert app["dueAt"] is not None
    assert app["slaState"] in ("GREEN", "YELLOW")
    assert [e["action"] for e in app["timeline"]] == ["SUBMIT"]
    assert app["timeline"][0]["before"] == "DRAFT"


async def test_same_key_concurrently_gives_one_application(api: Api, citizen: str) -> None:
    sub = {"input": business_input("double-click-01")}
    results = await asyncio.gather(*(api.data(SUBMIT, sub, citizen) for _ in range(8)))
    ids = {r["submitApplication"]["application"]["id"] for r in results}
    assert len(ids) == 1
    assert await count(api) == 1
    again = await api.data(SUBMIT, sub, citizen)
    assert again["submitApplication"]["application"]["id"] in ids
    # The same key for another matter is a client bug, not a duplicate.
    other = {**business_input("double-click-01"), "matterCode": ELDER_CARD}
    payload = (await api.data(SUBMIT, {"input": other}, citizen))["submitApplication"]
    assert errors(payload) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]
    assert await count(api) == 1


async def test_instant_approval_for_an_elder_lands_a_result(api: Api, elder: str) -> None:
    sub = {"input": elder_input("elder-card-0001", ELDER_ID)}
    app = (await api.data(SUBMIT, sub, elder))["submitApplication"]["application"]
    assert app["status"] == "APPROVED"
    assert app["instantReasons"] == []
    assert app["result"]["licenceTypeCode"] == "LNRYDZ"
    assert app["result"]["holderName"] == "王秀英"
    assert app["result"]["delivery"] == {"method": "ELECTRONIC", "status": "DELIVERED"}
    steps = [(e["before"], e["after"]) for e in app["timeline"]]
    assert steps[-2:] == [("IN_REVIEW", "APPROVED"), ("APPROVED", "APPROVED")]
    assert app["timeline"][-1]["action"] == "RESULT_DELIVERED"
    assert {e["actorRole"] for e in app["timeline"][1:]} == {"SYSTEM"}
    doc = await api.state.db["applications"].find_one({})
    assert doc is not None
    assert doc["result"]["delivery"].startswith("WALLET:")
    assert "id_number" not in doc["result"]
    assert "result_pending" not in doc  # cleared by the delivery
    notices = await api.state.db["application_notices"].find({}).to_list(None)
    assert [n["after"] for n in notices] == ["APPROVED"]
    # the result is in the wallet within the same request, and the applicant was told
    wallet = await api.data("{ myLicences { type { code } holderName status } }", token=elder)
    assert {"type": {"code": "LNRYDZ"}, "holderName": "王*英", "status": "VALID"} in wallet[
        "myLicences"
    ]
    inbox = await api.data("{ inbox(first: 5) { nodes { category body } } }", token=elder)
    assert [m["category"] for m in inbox["inbox"]["nodes"]] == ["APPLICATION_STATUS"]
    assert "老年人优待证" in inbox["inbox"]["nodes"][0]["body"]


async def test_instant_rules_fall_back_to_a_clerk_with_reasons(api: Api, citizen: str) -> None:
    sub = {"input": elder_input("young-card-0001", CITIZEN_ID)}
    sub["input"]["form"]["applicantName"] = "张三明"
    sub["input"]["materials"] = await elder_materials_of(api, citizen)
    app = (await api.data(SUBMIT, sub, citizen))["submitApplication"]["application"]
    assert app["status"] == "SUBMITTED"
    assert app["instantReasons"] == ["申请人未满60周岁"]
    assert app["result"] is None
    assert app["timeline"][-1]["action"] == "INSTANT_FALLBACK"


async def test_instant_rules_refuse_someone_elses_identity_number(api: Api, citizen: str) -> None:
    sub = {"input": elder_input("proxy-card-0001", ELDER_ID)}
    sub["input"]["materials"] = await elder_materials_of(api, citizen)
    app = (await api.data(SUBMIT, sub, citizen))["submitApplication"]["application"]
    assert app["status"] == "SUBMITTED"
    assert "表单身份证号与实名认证身份不一致" in app["instantReasons"]


async def test_deferred_materials_need_the_commitment(api: Api, citizen: str) -> None:
    sub: dict[str, Any] = {
        "matterCode": PROPERTY,
        "idempotencyKey": "property-0001",
        "form": {
            "applicantType": "个人",
            "applicantName": "张三明",
            "idNumber": CITIZEN_ID,
            "phone": "13800000001",
        },
        "materials": [
            {"name": n, "provision": "UPLOAD", "reference": ref(f"f{i}")}
            for i, n in enumerate(["不动产登记申请书", "申请人身份证明", "不动产权属来源证明"])
        ],
    }
    payload = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert errors(payload) == [("deferralCommitment", "DEFERRAL_COMMITMENT_REQUIRED")]
    sub["deferralCommitment"] = True
    payload = (await api.data(SUBMIT, {"input": sub}, citizen))["submitApplication"]
    assert payload["application"]["pendingSupplements"] == ["完税凭证"]
    # The conditional section: an organisation must give its credit code.
    org = {
        **sub,
        "idempotencyKey": "property-0002",
        "form": {"applicantType": "法人", "phone": "13800000001", "uscc": "91110000600037341X"},
    }
    payload = (await api.data(SUBMIT, {"input": org}, citizen))["submitApplication"]
    assert sorted(errors(payload)) == [
        ("form.legalRepresentative", "REQUIRED"),
        ("form.organizationName", "REQUIRED"),
        ("form.uscc", "INVALID_USCC"),
    ]


async def test_submit_requires_sign_in(api: Api, catalogue: object) -> None:
    payload = await api.gql(SUBMIT, {"input": business_input("anon-00001")})
    assert payload["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
