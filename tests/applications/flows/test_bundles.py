"""一件事 submitBundle through HTTP: all members or nothing, idempotent, finished after a crash."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from app.ids import to_global_id
from applications.bundles import MAX_FINISH_ATTEMPTS, BundleDesk, BundleStatus
from applications.personal_data import erase
from applications.reminders import housekeeping, service_for
from tests.applications.conftest import CITIZEN, errors
from tests.applications.flows.conftest import FOOD, RESTAURANT, restaurant_input
from tests.factories import Api, create_demo_user

SUBMIT_BUNDLE = """
mutation B($input: SubmitBundleInput!) {
  submitBundle(input: $input) {
    bundle { id bundleCode bundleName status
             members { id status matterCode pendingSupplements bundleId form } }
    userErrors { field code message }
  }
}"""

BUNDLE = """
query B($id: ID!) {
  bundleApplication(id: $id) { id status members { id matterCode status } }
}"""

MY_BUNDLES = "query { myBundles { nodes { id status members { matterCode } } } }"
MY_APPS = "query { myApplications { nodes { id matterCode bundleId } } }"


async def counts(api: Api) -> tuple[int, int]:
    db = api.state.db
    return (
        await db["applications"].count_documents({}),
        await db["application_bundles"].count_documents({}),
    )


async def test_one_form_and_one_material_set_create_every_member(api: Api, citizen: str) -> None:
    data = await api.data(SUBMIT_BUNDLE, {"input": restaurant_input("bundle-0001")}, citizen)
    payload = data["submitBundle"]
    assert payload["userErrors"] == []
    bundle = payload["bundle"]
    assert bundle["bundleCode"] == RESTAURANT
    assert bundle["bundleName"] == "开饭店一件事"
    members = bundle["members"]
    assert [m["matterCode"] for m in members] == ["3702020100001", FOOD]
    assert {m["bundleId"] for m in members} == {bundle["id"]}
    # Each member got only the fields its own form has; 容缺 applies where the matter allows.
    assert "businessName" not in members[1]["form"]
    assert "applicantType" not in members[0]["form"]
    assert members[1]["pendingSupplements"] == ["食品安全管理制度"]
    assert bundle["status"] == "IN_PROGRESS"

    seen = (await api.data(BUNDLE, {"id": bundle["id"]}, citizen))["bundleApplication"]
    assert [m["id"] for m in seen["members"]] == [m["id"] for m in members]
    mine = (await api.data(MY_BUNDLES, token=citizen))["myBundles"]["nodes"]
    assert [b["id"] for b in mine] == [bundle["id"]]
    apps = (await api.data(MY_APPS, token=citizen))["myApplications"]["nodes"]
    assert {a["id"] for a in apps} == {m["id"] for m in members}

    # Nobody else sees it, and existence is not leaked.
    await create_demo_user(api.state, "13800000002")
    other = await api.token("13800000002")
    assert (await api.data(BUNDLE, {"id": bundle["id"]}, other))["bundleApplication"] is None


async def test_any_member_failing_creates_nothing_and_reports_every_problem_once(
    api: Api, citizen: str
) -> None:
    bad = restaurant_input("bundle-0002", phone="12345", colour="red")
    bad["materials"] = [m for m in bad["materials"] if m["name"] != "营业执照"]
    bad["materials"].append({"name": "结婚证", "provision": "UPLOAD", "reference": "x"})
    bad["situationByMatter"] = {FOOD: "99", "NOPE": "01"}
    payload = (await api.data(SUBMIT_BUNDLE, {"input": bad}, citizen))["submitBundle"]
    assert payload["bundle"] is None
    found = errors(payload)
    assert ("situationByMatter.NOPE", "UNKNOWN_MATTER") in found
    assert (f"situationByMatter.{FOOD}", "UNKNOWN_SITUATION") in found
    assert ("form.colour", "UNKNOWN_FIELD") in found
    assert ("materials[5].name", "UNKNOWN_MATERIAL") in found
    # The phone is in both members' forms: reported once for the merged form.
    assert found.count(("form.phone", "INVALID_PHONE")) == 1
    assert await counts(api) == (0, 0)

    # Only the food licence lacks 营业执照: nothing is created for the valid member either.
    half = restaurant_input("bundle-0003")
    half["materials"] = [m for m in half["materials"] if m["name"] != "营业执照"]
    payload = (await api.data(SUBMIT_BUNDLE, {"input": half}, citizen))["submitBundle"]
    assert errors(payload) == [("materials", "MISSING_MATERIAL")]
    assert await counts(api) == (0, 0)

    unknown = {**restaurant_input("bundle-0004"), "bundleCode": "YJS-NOPE"}
    payload = (await api.data(SUBMIT_BUNDLE, {"input": unknown}, citizen))["submitBundle"]
    assert errors(payload) == [("bundleCode", "NOT_FOUND")]
    many = {**restaurant_input("bundle-0007"), "materials": restaurant_input("x")["materials"] * 9}
    payload = (await api.data(SUBMIT_BUNDLE, {"input": many}, citizen))["submitBundle"]
    assert errors(payload) == [("materials", "TOO_LONG")]
    short = restaurant_input("short")
    payload = (await api.data(SUBMIT_BUNDLE, {"input": short}, citizen))["submitBundle"]
    assert errors(payload) == [("idempotencyKey", "INVALID_IDEMPOTENCY_KEY")]


async def test_concurrent_double_submits_create_each_member_once(api: Api, citizen: str) -> None:
    variables = {"input": restaurant_input("bundle-0005")}
    results = await asyncio.gather(*(api.data(SUBMIT_BUNDLE, variables, citizen) for _ in range(6)))
    ids = {r["submitBundle"]["bundle"]["id"] for r in results}
    members = {tuple(m["id"] for m in r["submitBundle"]["bundle"]["members"]) for r in results}
    assert len(ids) == 1
    assert len(members) == 1
    assert await counts(api) == (2, 1)
    other = {**restaurant_input("bundle-0005"), "bundleCode": "YJS-ELDERLY"}
    payload = (await api.data(SUBMIT_BUNDLE, {"input": other}, citizen))["submitBundle"]
    assert errors(payload) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]


async def test_a_bundle_left_half_submitted_is_finished_exactly_once(
    api: Api, citizen: str
) -> None:
    first = await api.data(SUBMIT_BUNDLE, {"input": restaurant_input("bundle-0006")}, citizen)
    bundle = first["submitBundle"]["bundle"]
    kept, lost = bundle["members"]
    # The state a process leaves when it dies after the first member's insert.
    db = api.state.db
    await db["applications"].delete_one({"matter_code": FOOD})
    await db["application_bundles"].update_one({}, {"$set": {"state": "SUBMITTING"}})
    seen = (await api.data(BUNDLE, {"id": bundle["id"]}, citizen))["bundleApplication"]
    assert seen["status"] == "SUBMITTING"
    assert len(seen["members"]) == 1

    retry = await api.data(SUBMIT_BUNDLE, {"input": restaurant_input("bundle-0006")}, citizen)
    members = retry["submitBundle"]["bundle"]["members"]
    assert members[0]["id"] == kept["id"]
    assert members[1]["matterCode"] == lost["matterCode"]
    assert retry["submitBundle"]["bundle"]["status"] == "IN_PROGRESS"
    assert await counts(api) == (2, 1)

    # Without a retry, the worker's housekeeping finishes it (once the bundle is stale).
    await db["applications"].delete_one({"matter_code": FOOD})
    await db["application_bundles"].update_one({}, {"$set": {"state": "SUBMITTING"}})
    later = datetime.now(UTC) + timedelta(minutes=5)
    done = await housekeeping(service_for(api.state), later)
    assert done["bundles_finished"] == 1
    assert await counts(api) == (2, 1)
    again = await housekeeping(service_for(api.state), later)
    assert again["bundles_finished"] == 0


async def stored(api: Api, bundle_id: Any) -> dict[str, Any]:
    doc = await api.state.db["application_bundles"].find_one({"_id": bundle_id})
    assert doc is not None
    return doc


async def stale(api: Api, citizen: str, key: str) -> dict[str, Any]:
    """A bundle left SUBMITTING after its first member (a process died); its stored document."""
    await api.data(SUBMIT_BUNDLE, {"input": restaurant_input(key)}, citizen)
    db = api.state.db
    doc = await db["application_bundles"].find_one({"idempotency_key": key})
    assert doc is not None
    await db["applications"].delete_one({"bundle_id": doc["_id"], "matter_code": FOOD})
    await db["application_bundles"].update_one(
        {"_id": doc["_id"]}, {"$set": {"state": "SUBMITTING"}}
    )
    return doc


async def test_a_failing_stale_bundle_neither_blocks_the_others_nor_comes_back_forever(
    api: Api, citizen: str
) -> None:
    db = api.state.db
    bad = await stale(api, citizen, "bundle-0007")
    # Its member can no longer be submitted: the stored request names a situation the matter
    # does not have (as after a catalogue change), so every attempt fails for real.
    await db["application_bundles"].update_one(
        {"_id": bad["_id"]}, {"$set": {f"request.situations.{FOOD}": "已撤销的情形"}}
    )
    good = await stale(api, citizen, "bundle-0008")
    later = datetime.now(UTC) + timedelta(minutes=5)
    svc = service_for(api.state)

    # The failing bundle is the oldest, so it comes first; the pass goes on past it.
    assert (await housekeeping(svc, later))["bundles_finished"] == 1
    assert (await stored(api, good["_id"]))["state"] == "COMPLETE"
    failing = await stored(api, bad["_id"])
    assert failing["state"] == "SUBMITTING"
    assert failing["finish_attempts"] == 1
    assert failing["last_error"].endswith("UNKNOWN_SITUATION")
    for _ in range(MAX_FINISH_ATTEMPTS - 1):
        assert (await housekeeping(svc, later))["bundles_finished"] == 0
    failed = await stored(api, bad["_id"])
    assert failed["state"] == "FAILED"
    assert failed["finish_attempts"] == MAX_FINISH_ATTEMPTS
    global_id = to_global_id("BundleApplication", bad["_id"])
    seen = (await api.data(BUNDLE, {"id": global_id}, citizen))["bundleApplication"]
    assert seen["status"] == "FAILED"
    # Out of the selection: another pass leaves it alone.
    await housekeeping(svc, later)
    assert (await stored(api, bad["_id"]))["finish_attempts"] == MAX_FINISH_ATTEMPTS

    # A bundle whose applicant was erased can never be completed: ABANDONED at once.
    orphan = await stale(api, citizen, "bundle-0009")
    user = await create_demo_user(api.state, CITIZEN)
    await erase(db, user.id, datetime.now(UTC), None)
    assert (await housekeeping(svc, later))["bundles_finished"] == 0
    gone = await stored(api, orphan["_id"])
    assert gone["state"] == "ABANDONED"
    [view] = await BundleDesk(svc).views([gone])
    assert view.status is BundleStatus.ABANDONED
