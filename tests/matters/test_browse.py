"""Public catalogue reads through HTTP on the demo catalogue."""

from __future__ import annotations

from typing import Any

import pytest

from app.persisted import DEFAULT_DIR
from matters import demo
from tests.factories import Api
from tests.matters.conftest import error_codes

GUIDE = (DEFAULT_DIR / "MatterGuide.graphql").read_text(encoding="utf-8")

LIST = """
query L($first: Int, $after: String, $filter: MatterFilter) {
  matters(first: $first, after: $after, filter: $filter) {
    edges { cursor node { code name region { code } department { code } audiences
                          serviceModes lifeEvents } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def code_of(catalogue: demo.Catalogue, name: str, region: str | None = None) -> str:
    return next(
        m.code
        for m in catalogue.matters
        if m.name == name and (region is None or m.region_code == region)
    )


async def test_the_whole_guide_of_a_matter(api: Api, catalogue: demo.Catalogue) -> None:
    code = code_of(catalogue, "食品经营许可", "370202")
    matter = (await api.data(GUIDE, {"code": code}))["matter"]
    assert matter["name"] == "食品经营许可"
    assert matter["type"] == "LICENSING"
    assert matter["region"] == {"code": "370202", "name": "市南区"}
    assert matter["status"] == "PUBLISHED"
    assert matter["version"] == 1
    assert len(matter["situations"]) == 2
    materials = matter["situations"][0]["materials"]
    deferrable = [m for m in materials if m["deferrable"]]
    assert [m["name"] for m in deferrable] == ["食品安全管理制度"]
    assert not deferrable[0]["core"]
    assert [s["order"] for s in matter["steps"]] == list(range(1, len(matter["steps"]) + 1))
    assert matter["flowchart"].startswith("flowchart TD")
    assert matter["visits"] == 0
    assert matter["onlineDepth"] == "LEVEL_4"
    assert "FULLY_ONLINE" in matter["serviceModes"]
    assert matter["consultationPhone"] != matter["complaintPhone"]
    assert matter["servicePoints"]
    assert matter["servicePoints"][0]["latitude"] > 35
    assert matter["faq"]
    assert matter["legalBasis"]
    situations = matter["form"]["schema"]["x-situations"]  # the form itself is 申办's
    assert [s["code"] for s in situations] == ["01", "02"]


async def test_unknown_code_is_null_not_an_error(api: Api, catalogue: demo.Catalogue) -> None:
    for code in ("NOPE", "3702029999999", "x" * 500):
        payload = await api.gql(GUIDE, {"code": code})
        assert payload == {"data": {"matter": None}}


async def test_elderly_card_is_an_instant_approval_matter(
    api: Api, catalogue: demo.Catalogue
) -> None:
    code = code_of(catalogue, "老年人优待证办理", "370203")
    matter = (await api.data(GUIDE, {"code": code}))["matter"]
    assert "INSTANT_APPROVAL" in matter["serviceModes"]
    assert matter["committedDays"] == 0
    assert matter["visits"] == 0


async def test_demo_catalogue_is_big_enough(api: Api, catalogue: demo.Catalogue) -> None:
    data = await api.data(
        """{ catalogueStats { publishedMatters onlineCapableShare zeroVisit zeroVisitShare
                              byServiceMode { value count } byTongbanScope { value count } }
             departments { code } bundles { code matters { code } materials { name } }
             lifeEvents { code name } regions { code } }"""
    )
    stats = data["catalogueStats"]
    assert stats["publishedMatters"] >= 300
    assert 0.5 < stats["onlineCapableShare"] <= 1
    assert stats["zeroVisitShare"] == pytest.approx(stats["zeroVisit"] / 303, abs=1e-3)
    modes = {c["value"]: c["count"] for c in stats["byServiceMode"]}
    assert modes["秒批"] >= 10
    assert modes["全程网办"] > modes["秒批"]
    assert {c["value"] for c in stats["byTongbanScope"]} >= {"全市", "全省", "跨省"}
    assert len(data["departments"]) >= 20
    assert len(data["bundles"]) >= 20
    assert all(len(b["matters"]) >= 2 and b["materials"] for b in data["bundles"])
    assert len([r for r in data["regions"] if r["code"] != "370200"]) >= 8
    assert {
        "BIRTH",
        "SCHOOL",
        "MARRIAGE",
        "EMPLOYMENT",
        "BUSINESS_START",
        "RETIREMENT",
        "DEATH",
    } <= {e["code"] for e in data["lifeEvents"]}
    names = {m.name for m in catalogue.matters}
    for required in (
        "个体工商户设立登记",
        "食品经营许可",
        "居民身份证换领",
        "机动车驾驶证期满换证",
        "出生医学证明办理",
        "城乡居民基本养老保险参保登记",
        "老年人优待证办理",
        "不动产登记",
        "公共租赁住房申请",
    ):
        assert required in names
    assert len(catalogue.service_points) >= 50


async def _all_pages(api: Api, variables: dict[str, Any]) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await api.data(LIST, {**variables, "after": after}))["matters"]
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


async def test_listing_pages_through_everything_once(api: Api, catalogue: demo.Catalogue) -> None:
    nodes = await _all_pages(api, {"first": 100})
    codes = [n["code"] for n in nodes]
    assert len(codes) == len(set(codes)) == len(catalogue.matters)
    assert codes == sorted(codes)


@pytest.mark.parametrize(
    ("filter_", "check"),
    [
        ({"regionCode": "370281"}, lambda n: n["region"]["code"] == "370281"),
        ({"departmentCode": "370200-YBJ"}, lambda n: n["department"]["code"] == "370200-YBJ"),
        ({"audience": "ORGANIZATION"}, lambda n: "ORGANIZATION" in n["audiences"]),
        ({"serviceMode": "INSTANT_APPROVAL"}, lambda n: "INSTANT_APPROVAL" in n["serviceModes"]),
        ({"lifeEvent": "BIRTH"}, lambda n: "BIRTH" in n["lifeEvents"]),
        (
            {"regionCode": "370202", "serviceMode": "FULLY_ONLINE", "audience": "PERSON"},
            lambda n: n["region"]["code"] == "370202" and "FULLY_ONLINE" in n["serviceModes"],
        ),
    ],
)
async def test_filters_narrow_the_list(
    api: Api, catalogue: demo.Catalogue, filter_: dict[str, str], check: Any
) -> None:
    nodes = await _all_pages(api, {"first": 50, "filter": filter_})
    assert nodes
    assert all(check(n) for n in nodes)
    assert len(nodes) < len(catalogue.matters)


async def test_bundle_filter_lists_its_members(api: Api, catalogue: demo.Catalogue) -> None:
    bundle = next(b for b in catalogue.bundles if b.code == "YJS-RESTAURANT")
    nodes = await _all_pages(api, {"filter": {"bundleCode": "YJS-RESTAURANT"}})
    assert sorted(n["code"] for n in nodes) == sorted(bundle.matter_codes)
    assert await _all_pages(api, {"filter": {"bundleCode": "NO-SUCH"}}) == []


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"filter": {"regionCode": "QD"}}, "INVALID_FILTER", "filter.regionCode"),
        ({"filter": {"departmentCode": "$where"}}, "INVALID_FILTER", "filter.departmentCode"),
        ({"filter": {"lifeEvent": "x" * 100}}, "INVALID_FILTER", "filter.lifeEvent"),
        ({"first": 101}, "INVALID_PAGINATION", "first"),
        ({"after": "%%%"}, "INVALID_PAGINATION", "after"),
        ({"after": "eyIkZ3QiOiAxfQ"}, "INVALID_PAGINATION", "after"),  # {"$gt": 1}
    ],
)
async def test_bad_list_input_gets_typed_errors(
    api: Api, variables: dict[str, Any], code: str, field: str
) -> None:
    payload = await api.gql(LIST, variables)
    assert error_codes(payload) == [code]
    assert payload["errors"][0]["extensions"]["field"] == field


async def test_hot_matters_and_nearby_points(api: Api, catalogue: demo.Catalogue) -> None:
    data = await api.data(
        """{ hotMatters(first: 5) { name popularity }
             nearbyServicePoints(latitude: 36.07, longitude: 120.39, first: 3) {
               distanceMeters point { name regionCode } } }"""
    )
    popularity = [m["popularity"] for m in data["hotMatters"]]
    assert len(popularity) == 5
    assert popularity == sorted(popularity, reverse=True)
    assert popularity[0] == max(m.popularity for m in catalogue.matters)
    distances = [p["distanceMeters"] for p in data["nearbyServicePoints"]]
    assert distances == sorted(distances)
    assert distances[0] < 5000
    assert data["nearbyServicePoints"][0]["point"]["regionCode"] in ("370202", "370200", "370203")
    payload = await api.gql(
        "{ nearbyServicePoints(latitude: 95, longitude: 120) { distanceMeters } }"
    )
    assert error_codes(payload) == ["INVALID_FILTER"]
