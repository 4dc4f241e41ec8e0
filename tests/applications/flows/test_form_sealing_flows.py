"""Forms at rest through HTTP: no demo identity number or phone in a stored case, draft or
bundle, while the applicant, the clerk, prefill, a bundle finishing late and the export see the
form as typed."""

from __future__ import annotations

import json
import re
from typing import Any

import bson

from app.seed import DEMO_USERS
from applications.flow_store import BUNDLES
from applications.store import APPLICATIONS
from auth.models import AssuranceLevel, Role
from auth.service import UserSpec
from tests.applications.conftest import BUSINESS, CITIZEN, ELDER_CARD, SUBMIT, business_input
from tests.applications.flows.conftest import RESTAURANT, restaurant_input
from tests.applications.flows.test_bundles import SUBMIT_BUNDLE
from tests.applications.test_drafts import SAVE
from tests.factories import Api, create_user

DEMO_NUMBERS = sorted(
    {u.id_number for u in DEMO_USERS if u.id_number} | {u.phone for u in DEMO_USERS}
)
FORM = "query F($id: ID!) { application(id: $id) { id status form } }"
PREFILL = "query P($c: String!) { applicationPrefill(matterCode: $c) }"
EXPORT = "{ exportMyData }"
ELDER_PHONE = "13800000003"  # another demo user's phone, typed as an emergency contact


async def _raw_leaks(api: Api) -> list[str]:
    """Demo numbers found anywhere in the stored cases, drafts and bundles (BSON and JSON)."""
    found: list[str] = []
    for name in (APPLICATIONS, BUNDLES):
        async for doc in api.state.db[name].find({}):
            raw = bson.encode(doc)
            text = json.dumps(doc, default=str, ensure_ascii=False)
            found += [
                f"{name}:{n}" for n in DEMO_NUMBERS if n.encode() in raw or re.search(n, text)
            ]
    return found


async def test_no_number_at_rest_yet_everyone_entitled_reads_the_form(
    api: Api, citizen: str, clerk: str
) -> None:
    sub = business_input("sealed-form-01")
    typed = sub["form"]
    assert typed["idNumber"] in DEMO_NUMBERS
    assert typed["phone"] in DEMO_NUMBERS
    # A draft saved on one device, resumed (read back) and submitted.
    saved = await api.data(SAVE, {"input": {"matterCode": BUSINESS, "form": typed}}, citizen)
    draft_id = saved["saveApplicationDraft"]["application"]["id"]
    assert saved["saveApplicationDraft"]["application"]["form"] == typed
    assert await _raw_leaks(api) == []
    resumed = (await api.data(FORM, {"id": draft_id}, citizen))["application"]
    assert resumed["form"] == typed
    submitted = await api.data(SUBMIT, {"input": {**sub, "draftId": draft_id}}, citizen)
    assert submitted["submitApplication"]["userErrors"] == []
    # 一件事: the bundle's stored request and both members.
    bundled = await api.data(SUBMIT_BUNDLE, {"input": restaurant_input("sealed-bundle-1")}, citizen)
    members = bundled["submitBundle"]["bundle"]["members"]
    assert {m["form"]["idNumber"] for m in members if "idNumber" in m["form"]} == {
        typed["idNumber"]
    }
    assert await _raw_leaks(api) == []
    stored = await api.state.db[APPLICATIONS].find_one({"_id": {"$exists": True}})
    assert stored is not None
    assert stored["form"]["phone"] == "138****0001"

    # The applicant and the department's clerk see the form as typed.
    for token in (citizen, clerk):
        case = (await api.data(FORM, {"id": draft_id}, token))["application"]
        assert case["status"] == "SUBMITTED"
        assert case["form"] == typed

    # Prefill opens the last form: a field identity does not supply comes back in full.
    later = {"applicantName": "张三明", "emergencyPhone": ELDER_PHONE}
    await api.data(SAVE, {"input": {"matterCode": ELDER_CARD, "form": later}}, citizen)
    assert await _raw_leaks(api) == []
    prefill = (await api.data(PREFILL, {"c": ELDER_CARD}, citizen))["applicationPrefill"]
    assert prefill["emergencyPhone"] == ELDER_PHONE
    assert prefill["phone"] == CITIZEN

    # The holder's export has the clear values and no ciphertext.
    export = (await api.data(EXPORT, token=citizen))["exportMyData"]["applications"]
    forms = {a["matter_code"]: a["form"] for a in export["applications"] if a["status"] != "DRAFT"}
    assert forms[BUSINESS]["idNumber"] == typed["idNumber"]
    assert all("form_sealed" not in a for a in export["applications"])
    [bundle] = export["bundles"]
    assert bundle["bundle_code"] == RESTAURANT
    assert bundle["request"]["form"]["phone"] == CITIZEN
    assert "form_sealed" not in bundle["request"]


async def test_a_bundle_finished_after_a_crash_submits_its_members_with_the_full_form(
    api: Api, citizen: str
) -> None:
    first = await api.data(SUBMIT_BUNDLE, {"input": restaurant_input("sealed-bundle-2")}, citizen)
    assert first["submitBundle"]["userErrors"] == []
    db = api.state.db
    # As if the process died after the bundle's insert: no member yet, still SUBMITTING.
    await db[APPLICATIONS].delete_many({})
    await db[BUNDLES].update_one({}, {"$set": {"state": "SUBMITTING"}})
    retry = await api.data(SUBMIT_BUNDLE, {"input": restaurant_input("sealed-bundle-2")}, citizen)
    payload: dict[str, Any] = retry["submitBundle"]
    assert payload["userErrors"] == []
    forms = [m["form"] for m in payload["bundle"]["members"]]
    assert forms
    assert all(f["phone"] == CITIZEN for f in forms)
    assert await _raw_leaks(api) == []


async def test_a_phone_only_session_gets_earlier_numbers_masked_in_the_prefill(
    api: Api, catalogue: Any
) -> None:
    del catalogue  # seeded
    spec = UserSpec("13800000278", (Role.CITIZEN,), AssuranceLevel.L1, "赵二", None, "370202")
    await create_user(api.state, spec)
    weak = await api.token(spec.phone)
    typed = {"applicantName": "赵二", "emergencyPhone": ELDER_PHONE}
    await api.data(SAVE, {"input": {"matterCode": ELDER_CARD, "form": typed}}, weak)
    prefill = (await api.data(PREFILL, {"c": ELDER_CARD}, weak))["applicationPrefill"]
    assert prefill["emergencyPhone"] == "138****0003"
    assert prefill["applicantName"] == "赵二"
