"""一件事 with a 结果送达 choice: applied to the members that offer it, errors per field with
nothing written, the address sealed in the bundle's request only until its members exist."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.keyring import Keyring
from applications import personal_data
from applications.delivery import bundle_choice, open_address
from matters import demo
from matters.models import ResultDelivery
from matters.service import seed_catalogue
from matters.store import MatterStore
from tests.applications.conftest import BUSINESS, errors
from tests.applications.delivery_helpers import ADDRESS
from tests.applications.flows.conftest import FOOD, flow_catalogue, restaurant_input
from tests.applications.flows.test_bundles import SUBMIT_BUNDLE, counts
from tests.factories import Api

POST = {"method": "POST", "address": ADDRESS}
BUNDLES = "application_bundles"


@pytest.fixture
async def catalogue(api: Api) -> demo.Catalogue:
    """开饭店一件事 whose 食品经营许可 is not posted (electronic only), and whose 个体工商户
    登记 offers electronic or post, not pickup: so PICKUP is offered by no member."""
    full = flow_catalogue()
    offers = {
        BUSINESS: [ResultDelivery.ELECTRONIC, ResultDelivery.POST],
        FOOD: [ResultDelivery.ELECTRONIC],
    }
    matters = [
        m.model_copy(update={"result_delivery": offers[m.code]}) if m.code in offers else m
        for m in full.matters
    ]
    changed = demo.Catalogue(matters, full.departments, full.bundles, full.service_points)
    await seed_catalogue(MatterStore(api.state.db), changed)
    return changed


async def _submit(api: Api, token: str, sub: dict[str, Any]) -> dict[str, Any]:
    return dict((await api.data(SUBMIT_BUNDLE, {"input": sub}, token))["submitBundle"])


def _with(key: str, delivery: Any, **form: Any) -> dict[str, Any]:
    return {**restaurant_input(key, **form), "resultDelivery": delivery}


def _text(doc: Any) -> str:
    return json.dumps(doc, default=str, ensure_ascii=False)


async def test_the_choice_goes_to_the_members_that_offer_it_sealed(api: Api, citizen: str) -> None:
    payload = await _submit(api, citizen, _with("bundle-post-01", POST))
    assert payload["userErrors"] == [], payload
    bundle_id = payload["bundle"]["id"]
    db = api.state.db
    members = {a["matter_code"]: a async for a in db["applications"].find({})}
    assert members[BUSINESS]["delivery"]["method"] == "POST"
    assert members[FOOD]["delivery"] == {"method": "ELECTRONIC"}  # not posted: its default
    masked = members[BUSINESS]["delivery"]["address"]["masked"]
    assert masked["phone"] == "138****0001"
    opened = open_address(members[BUSINESS]["delivery"]["address"], api.state.keyring)
    assert opened["line"] == ADDRESS["line"]
    [stored] = await db[BUNDLES].find({}).to_list(2)
    assert stored["request"]["delivery"] == {
        "by_matter": {BUSINESS: "POST", FOOD: "ELECTRONIC"},
        "address": None,  # complete: the members hold it, the bundle no more
    }
    assert ADDRESS["line"] not in _text(stored)
    assert ADDRESS["recipientName"] not in _text(stored["request"]["delivery"])
    # The member cases show the choice through the API.
    seen = await api.data(
        "query($id: ID!) { bundleApplication(id: $id) { members { matterCode "
        "resultDeliveryMethod } } }",
        {"id": bundle_id},
        citizen,
    )
    methods = {
        m["matterCode"]: m["resultDeliveryMethod"] for m in seen["bundleApplication"]["members"]
    }
    assert methods == {BUSINESS: "POST", FOOD: "ELECTRONIC"}


async def test_errors_per_field_with_the_forms_and_nothing_written(api: Api, citizen: str) -> None:
    bad_address = {
        "method": "POST",
        "address": {"recipientName": "张三明", "phone": "12", "region": "370200", "line": "短"},
    }
    payload = await _submit(api, citizen, _with("bundle-post-02", bad_address, phone="12"))
    assert payload["bundle"] is None
    assert sorted(errors(payload)) == [
        ("form.phone", "INVALID_PHONE"),
        ("resultDelivery.address.line", "TOO_SHORT"),
        ("resultDelivery.address.phone", "INVALID_PHONE"),
        ("resultDelivery.address.region", "INVALID_REGION"),
    ]
    no_address = await _submit(api, citizen, _with("bundle-post-03", {"method": "POST"}))
    assert errors(no_address) == [("resultDelivery.address", "ADDRESS_REQUIRED")]
    nobody = await _submit(api, citizen, _with("bundle-post-04", {"method": "PICKUP"}))
    assert errors(nobody) == [("resultDelivery.method", "DELIVERY_METHOD_NOT_OFFERED")]
    assert await counts(api) == (0, 0)


async def test_an_unfinished_bundle_keeps_it_sealed_for_its_members_export_and_erasure(
    api: Api, citizen: str
) -> None:
    """A process died after the bundle's insert: the retry creates the posted member with the
    address from the sealed request; meanwhile export opens it and erasure removes it."""
    first = await _submit(api, citizen, _with("bundle-post-05", POST))
    assert first["userErrors"] == []
    db = api.state.db
    business = await db["applications"].find_one({"matter_code": BUSINESS})
    assert business is not None
    sealed = business["delivery"]["address"]
    await db["applications"].delete_one({"_id": business["_id"]})
    await db[BUNDLES].update_one(
        {}, {"$set": {"state": "SUBMITTING", "request.delivery.address": sealed}}
    )
    export = (await api.data("{ exportMyData }", token=citizen))["exportMyData"]
    [exported] = export["applications"]["bundles"]
    assert exported["request"]["delivery"]["address"]["line"] == ADDRESS["line"]

    retry = await _submit(api, citizen, _with("bundle-post-05", None))
    assert retry["userErrors"] == []
    again = await db["applications"].find_one({"matter_code": BUSINESS})
    assert again is not None
    assert open_address(again["delivery"]["address"], api.state.keyring)["phone"] == "13800000001"
    stored = await db[BUNDLES].find_one({})
    assert stored is not None
    assert stored["state"] == "COMPLETE"
    assert stored["request"]["delivery"]["address"] is None

    # Erasure of an applicant whose bundle still holds the address removes it there too.
    await db[BUNDLES].update_one({}, {"$set": {"request.delivery.address": sealed}})
    await personal_data.erase(db, stored["applicant_id"], stored["created_at"], None)
    erased = await db[BUNDLES].find_one({})
    assert erased is not None
    assert erased["request"]["delivery"]["address"] is None
    assert erased["request"]["delivery"]["address_erased_at"] is not None


def test_a_posting_only_member_needs_an_address_whatever_the_choice() -> None:
    """Checked before the bundle is written: without this the member would fail after it."""
    ring = Keyring.from_master(b"k" * 40)
    members = [m for m in flow_catalogue().matters if m.code in (BUSINESS, FOOD)]
    posting_only = [
        m.model_copy(update={"result_delivery": [ResultDelivery.POST]}) if m.code == FOOD else m
        for m in members
    ]
    for raw in (None, {"method": "PICKUP"}):
        document, problems = bundle_choice(posting_only, raw, ring)
        assert document is None
        assert [(e.field, e.code) for e in problems] == [
            ("resultDelivery.address", "ADDRESS_REQUIRED")
        ]
    document, problems = bundle_choice(members, None, ring)
    assert problems == []
    assert document == {"by_matter": {BUSINESS: "ELECTRONIC", FOOD: "ELECTRONIC"}, "address": None}
