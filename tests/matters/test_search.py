"""searchMatters through HTTP on the demo catalogue: quality, highlights, paging, bad input."""

from __future__ import annotations

import pytest

from matters import demo
from matters.service import seed_catalogue
from matters.store import MatterStore
from tests.factories import Api
from tests.matters.conftest import error_codes

SEARCH = """
query S($q: String!, $first: Int, $after: String) {
  searchMatters(query: $q, first: $first, after: $after) {
    edges { cursor score highlights { field fragment reason } node { code name } }
    nodes { code }
    pageInfo { hasNextPage endCursor }
  }
}"""

# (what a citizen types, the matter they mean, how it should match)
NAMED_QUERIES = [
    ("个体工商户", "个体工商户设立登记", "WORD"),
    ("gtgsh", "个体工商户设立登记", "INITIALS"),
    ("getigongshanghu", "个体工商户设立登记", "PINYIN"),
    ("GeTi GongShangHu", "个体工商户设立登记", "PINYIN"),
    ("getigongshanhu", "个体工商户设立登记", "FUZZY"),  # typo: shan for shang
    ("个体工商护", "个体工商户设立登记", "WORD"),  # typo: 护 for 户
    ("开饭店", "食品经营许可", "SYNONYM"),
    ("食品经营许可", "食品经营许可", "WORD"),
    ("换身份证", "居民身份证换领", None),
    ("驾照到期", "机动车驾驶证期满换证", None),
    ("jsz", "机动车驾驶证期满换证", "INITIALS"),
    ("出生证", "出生医学证明办理", None),
    ("养老保险参保", "城乡居民基本养老保险参保登记", "WORD"),
    ("老年证", "老年人优待证办理", None),
    ("lnrydz", "老年人优待证办理", "INITIALS"),
    ("房产证", "不动产登记", None),
    ("公租房", "公共租赁住房申请", None),
    ("gongzufang", "公共租赁住房申请", "PINYIN"),
]


async def test_named_queries_find_their_matter_in_the_top_three(
    api: Api, catalogue: demo.Catalogue
) -> None:
    misses = []
    for query, expected, reason in NAMED_QUERIES:
        data = await api.data(SEARCH, {"q": query, "first": 3})
        edges = data["searchMatters"]["edges"]
        names = [e["node"]["name"] for e in edges]
        if expected not in names:
            misses.append((query, expected, names))
            continue
        edge = edges[names.index(expected)]
        assert edge["highlights"], (query, edge)
        if reason is not None:
            reasons = {h["reason"] for h in edge["highlights"]}
            assert reason in reasons, (query, edge["highlights"])
    assert not misses, misses


async def test_highlights_mark_the_matched_words(api: Api, catalogue: demo.Catalogue) -> None:
    data = await api.data(SEARCH, {"q": "个体工商户", "first": 1})
    top = data["searchMatters"]["edges"][0]
    assert top["node"]["name"] == "个体工商户设立登记"
    assert {"field": "name", "fragment": "【个体工商户】设立登记", "reason": "WORD"} in top[
        "highlights"
    ]
    data = await api.data(SEARCH, {"q": "gtgsh", "first": 1})
    assert (
        data["searchMatters"]["edges"][0]["highlights"][0]["fragment"] == "【个体工商户】设立登记"
    )


async def test_pages_follow_each_other_without_overlap(api: Api, catalogue: demo.Catalogue) -> None:
    seen: list[str] = []
    scores: list[float] = []
    after = None
    while True:
        data = await api.data(SEARCH, {"q": "登记", "first": 7, "after": after})
        page = data["searchMatters"]
        seen += [e["node"]["code"] for e in page["edges"]]
        scores += [e["score"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    everything = await api.data(SEARCH, {"q": "登记", "first": 100})
    assert seen[:100] == [n["code"] for n in everything["searchMatters"]["nodes"]]
    assert len(seen) == len(set(seen)) > 20
    assert scores == sorted(scores, reverse=True)


async def test_nothing_found_is_an_empty_page(api: Api, catalogue: demo.Catalogue) -> None:
    data = await api.data(SEARCH, {"q": "量子纠缠"})
    assert data["searchMatters"]["edges"] == []
    assert data["searchMatters"]["pageInfo"] == {"hasNextPage": False, "endCursor": None}


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"q": ""}, "INVALID_SEARCH", "query"),
        ({"q": "   "}, "INVALID_SEARCH", "query"),
        ({"q": "办" * 41}, "INVALID_SEARCH", "query"),
        ({"q": "登记", "first": 101}, "INVALID_PAGINATION", "first"),
        ({"q": "登记", "first": -1}, "INVALID_PAGINATION", "first"),
        ({"q": "登记", "after": "not-a-cursor!"}, "INVALID_PAGINATION", "after"),
        ({"q": "登记", "after": "WyJ4Il0"}, "INVALID_PAGINATION", "after"),  # ["x"]
    ],
)
async def test_bad_search_input_gets_typed_errors(
    api: Api, variables: dict[str, object], code: str, field: str
) -> None:
    payload = await api.gql(SEARCH, variables)
    assert payload["data"] is None
    assert error_codes(payload) == [code]
    assert payload["errors"][0]["extensions"]["field"] == field
    assert "Unexpected" not in payload["errors"][0]["message"]


async def test_results_load_the_whole_guide_when_asked(api: Api, catalogue: demo.Catalogue) -> None:
    data = await api.data(
        """{ searchMatters(query: "食品经营许可", first: 3) {
              nodes { code name version materials { name } servicePoints { name } } } }"""
    )
    nodes = data["searchMatters"]["nodes"]
    assert len(nodes) == 3
    by_code = {m.code: m for m in catalogue.matters}
    for node in nodes:
        expected = by_code[node["code"]]
        assert node["version"] == 1
        assert node["materials"][0]["name"] == expected.situations[0].materials[0].name
        assert node["servicePoints"]


async def test_a_reseeded_catalogue_is_searched_afresh(api: Api, catalogue: demo.Catalogue) -> None:
    assert (await api.data(SEARCH, {"q": "公租房", "first": 1}))["searchMatters"]["nodes"]
    smaller = demo.Catalogue(
        [m for m in catalogue.matters if m.name == "个体工商户设立登记"],
        catalogue.departments,
        [],
        catalogue.service_points,
    )
    await seed_catalogue(MatterStore(api.state.db), smaller)
    api.state.matters.invalidate()  # as the seeding process does; others see it within 1 s
    assert (await api.data(SEARCH, {"q": "公租房"}))["searchMatters"]["nodes"] == []
    found = (await api.data(SEARCH, {"q": "gtgsh", "first": 100}))["searchMatters"]["nodes"]
    assert len(found) == len(smaller.matters)
