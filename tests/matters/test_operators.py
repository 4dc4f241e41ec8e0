"""Operators edit, publish and withdraw guides; versions are kept; citizens cannot."""

from __future__ import annotations

from typing import Any

from matters import demo
from tests.factories import Api
from tests.matters.conftest import demo_catalogue, error_codes

CREATE = """
mutation C($m: JSON!) { createMatter(input: {matter: $m}) {
  matter { code version status } userErrors { field code message } } }"""
EDIT = """
mutation E($code: String!, $m: JSON!, $v: Int) {
  editMatter(input: {code: $code, matter: $m, expectedVersion: $v}) {
    matter { code version status name } userErrors { field code message } } }"""
PUBLISH = """
mutation P($code: String!) { publishMatter(input: {code: $code}) {
  matter { code version status publishedAt } userErrors { field code message } } }"""
WITHDRAW = """
mutation W($code: String!) { withdrawMatter(input: {code: $code, reason: "合并"}) {
  matter { code status } userErrors { field code message } } }"""
READ = """
query R($code: String!, $v: Int) { matter(code: $code, version: $v) {
  code name version status } }"""
SEARCH = """
query S($q: String!) { searchMatters(query: $q, first: 3) { nodes { code name } } }"""
VERSIONS = """
query V($code: String!) { matterVersions(code: $code) { version status name } }"""


def new_guide(**changes: Any) -> dict[str, Any]:
    base = next(m for m in demo_catalogue().matters if m.name == "老年人优待证办理")
    content = base.to_content()
    content.update({"code": "370202TEST0001", "name": "海鲜排档卫生许可", **changes})
    return content


async def test_draft_publish_edit_and_versions(api: Api, operator_token: str) -> None:
    created = (await api.data(CREATE, {"m": new_guide()}, operator_token))["createMatter"]
    assert created["userErrors"] == []
    assert created["matter"] == {"code": "370202TEST0001", "version": 1, "status": "DRAFT"}
    # A draft is not public, not even by version.
    assert (await api.data(READ, {"code": "370202TEST0001"}))["matter"] is None
    assert (await api.data(READ, {"code": "370202TEST0001", "v": 1}))["matter"] is None

    published = await api.data(PUBLISH, {"code": "370202TEST0001"}, operator_token)
    assert published["publishMatter"]["matter"]["status"] == "PUBLISHED"
    found = (await api.data(SEARCH, {"q": "海鲜排档"}))["searchMatters"]["nodes"]
    assert found[0]["code"] == "370202TEST0001"

    edited = await api.data(
        EDIT,
        {"code": "370202TEST0001", "m": new_guide(name="海鲜大排档卫生许可"), "v": 1},
        operator_token,
    )
    assert edited["editMatter"]["matter"]["version"] == 2
    assert edited["editMatter"]["matter"]["status"] == "DRAFT"
    # The public still sees version 1 until version 2 is published.
    assert (await api.data(READ, {"code": "370202TEST0001"}))["matter"]["version"] == 1
    stale = await api.data(
        EDIT, {"code": "370202TEST0001", "m": new_guide(), "v": 1}, operator_token
    )
    assert [e["code"] for e in stale["editMatter"]["userErrors"]] == ["STALE_VERSION"]

    await api.data(PUBLISH, {"code": "370202TEST0001"}, operator_token)
    current = (await api.data(READ, {"code": "370202TEST0001"}))["matter"]
    assert current == {
        "code": "370202TEST0001",
        "name": "海鲜大排档卫生许可",
        "version": 2,
        "status": "PUBLISHED",
    }
    old = (await api.data(READ, {"code": "370202TEST0001", "v": 1}))["matter"]
    assert old["name"] == "海鲜排档卫生许可"
    assert old["status"] == "SUPERSEDED"
    versions = await api.data(VERSIONS, {"code": "370202TEST0001"}, operator_token)
    assert [v["status"] for v in versions["matterVersions"]] == ["SUPERSEDED", "PUBLISHED"]

    withdrawn = await api.data(WITHDRAW, {"code": "370202TEST0001"}, operator_token)
    assert withdrawn["withdrawMatter"]["matter"]["status"] == "WITHDRAWN"
    assert (await api.data(READ, {"code": "370202TEST0001"}))["matter"] is None
    assert (await api.data(SEARCH, {"q": "海鲜排档"}))["searchMatters"]["nodes"] == []
    again = await api.data(WITHDRAW, {"code": "370202TEST0001"}, operator_token)
    assert [e["code"] for e in again["withdrawMatter"]["userErrors"]] == ["NOT_PUBLISHED"]


async def test_citizens_and_anonymous_cannot_touch_the_catalogue(
    api: Api, catalogue: demo.Catalogue, citizen_token: str
) -> None:
    code = catalogue.matters[0].code
    for query, variables in (
        (PUBLISH, {"code": code}),
        (WITHDRAW, {"code": code}),
        (CREATE, {"m": new_guide()}),
        (VERSIONS, {"code": code}),
    ):
        payload = await api.gql(query, variables, citizen_token)
        assert error_codes(payload) == ["FORBIDDEN"], payload
        payload = await api.gql(query, variables)
        assert error_codes(payload) == ["UNAUTHENTICATED"], payload
    assert (await api.data(READ, {"code": code}))["matter"]["status"] == "PUBLISHED"


async def test_guides_that_break_quality_rules_are_refused(api: Api, operator_token: str) -> None:
    cases = {
        "PHONES_MUST_DIFFER": new_guide(consultation_phone="12345"),
        "FULLY_ONLINE_NEEDS_ZERO_VISITS": new_guide(visits=1),
        "CHARGED_NEEDS_FEES": new_guide(charged=True),
        "COMMITTED_EXCEEDS_STATUTORY": new_guide(statutory_days=0, committed_days=3),
        "INSTANT_APPROVAL_NEEDS_ZERO_DAYS": new_guide(committed_days=2),
        "MISSING_FIELD": {k: v for k, v in new_guide().items() if k != "steps"},
        "INVALID_FIELD": new_guide(region_code="110101"),
    }
    for rule, guide in cases.items():
        payload = (await api.data(CREATE, {"m": guide}, operator_token))["createMatter"]
        assert payload["matter"] is None
        assert rule in [e["code"] for e in payload["userErrors"]], (rule, payload)
        assert all(e["field"].startswith("matter") for e in payload["userErrors"])
    nothing = await api.data(VERSIONS, {"code": "370202TEST0001"}, operator_token)
    assert nothing["matterVersions"] == []


async def test_publishing_without_a_draft_is_a_user_error(
    api: Api, catalogue: demo.Catalogue, operator_token: str
) -> None:
    payload = await api.data(PUBLISH, {"code": catalogue.matters[0].code}, operator_token)
    assert [e["code"] for e in payload["publishMatter"]["userErrors"]] == ["NO_DRAFT"]
    exists = await api.data(
        CREATE, {"m": new_guide(code=catalogue.matters[0].code)}, operator_token
    )
    assert [e["code"] for e in exists["createMatter"]["userErrors"]] == ["ALREADY_EXISTS"]


SEARCH_MORE = """
query S($q: String!) { searchMatters(query: $q, first: 20) { nodes { code name } } }"""


async def test_search_follows_a_publish_without_a_full_rebuild(
    api: Api, catalogue: demo.Catalogue, operator_token: str
) -> None:
    target = next(m for m in catalogue.matters if m.name == "高龄津贴申领")
    before = (await api.data(SEARCH_MORE, {"q": "高龄津贴"}))["searchMatters"]["nodes"]
    assert target.code in [n["code"] for n in before]
    index = api.state.matters._index
    assert index is not None
    guide = target.to_content()
    guide.update(name="百岁老人长寿补贴申领", aliases=[], keywords=["百岁"])
    edited = await api.data(EDIT, {"code": target.code, "m": guide}, operator_token)
    assert edited["editMatter"]["userErrors"] == []
    await api.data(PUBLISH, {"code": target.code}, operator_token)
    after = (await api.data(SEARCH, {"q": "长寿补贴"}))["searchMatters"]["nodes"]
    assert after[0] == {"code": target.code, "name": "百岁老人长寿补贴申领"}
    again = (await api.data(SEARCH_MORE, {"q": "高龄津贴"}))["searchMatters"]["nodes"]
    assert target.code not in [n["code"] for n in again]
    assert api.state.matters._index is index  # applied in place: 2 rows, not 303
    assert len(index) == len(catalogue.matters)
