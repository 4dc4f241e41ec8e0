"""Queries and mutations of the catalogue: thin calls into the service.

Public reads raise typed top-level errors (`extensions.code`, `extensions.field`) for bad input,
since queries have no payload to carry `userErrors`; mutations return `userErrors`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from app.context import Context
from app.errors import AccessError, DomainError
from app.pagination import Connection, Edge, PageInfo
from matters import models, service
from matters.demo_templates import REGIONS
from matters.types import Department, Material, Matter, Region, ServicePoint

T = TypeVar("T")


async def _typed(call: Awaitable[T]) -> T:
    try:
        return await call
    except AccessError:
        raise
    except DomainError as exc:
        raise GraphQLError(exc.message, extensions={"code": exc.code, "field": exc.field}) from exc


@strawberry.input(description="Narrow the published catalogue (all given conditions apply).")
class MatterFilter:
    department_code: str | None = strawberry.field(default=None, description="实施主体编码.")
    region_code: str | None = strawberry.field(default=None, description="6-digit 行政区划代码.")
    audience: models.Audience | None = strawberry.field(default=None, description="服务对象.")
    service_mode: models.ServiceMode | None = strawberry.field(
        default=None, description="服务方式 the matter offers."
    )
    life_event: str | None = strawberry.field(default=None, description="Life-event code.")
    bundle_code: str | None = strawberry.field(default=None, description="一件事 bundle code.")


@strawberry.type(description="Why a search result matched: a field with the matches marked.")
class SearchHighlight:
    field: str = strawberry.field(description="name, aliases, keywords, situations, ...")
    fragment: str = strawberry.field(description="The field's text with matches in 【】.")
    reason: str = strawberry.field(
        description="WORD, SYNONYM, PINYIN (full spelling), INITIALS or FUZZY (near miss)."
    )


@strawberry.type(description="A search result with its rank and why it matched.")
class MatterSearchEdge:
    node: Matter = strawberry.field(description="The matter.")
    cursor: str = strawberry.field(description="Pass as `after` for the next page.")
    score: float = strawberry.field(description="Relevance, with popularity as a small boost.")
    highlights: list[SearchHighlight] = strawberry.field(description="Why it matched.")


@strawberry.type(description="Search results, best first.")
class MatterSearchConnection:
    edges: list[MatterSearchEdge] = strawberry.field(description="Results of this page.")
    page_info: PageInfo = strawberry.field(description="Whether more results follow.")

    @strawberry.field(description="The matters of this page, without ranks.")
    def nodes(self) -> list[Matter]:
        return [edge.node for edge in self.edges]


@strawberry.type(description="一件事: matters handled together for one life event or theme.")
class Bundle:
    code: str = strawberry.field(description="Bundle code.")
    name: str = strawberry.field(description="Bundle name.")
    audience: models.Audience = strawberry.field(description="Who it is for.")
    life_event: str = strawberry.field(description="Life-event or theme code.")
    description: str = strawberry.field(description="What it joins.")
    bundle: strawberry.Private[models.Bundle]

    @strawberry.field(description="Member matters (published ones).")
    async def matters(self, info: Info[Context, None]) -> list[Matter]:
        return [Matter.of(r) for r in await info.context.matters.bundle_members(self.bundle)]

    @strawberry.field(description="One merged material list: each material once, by name.")
    async def materials(self, info: Info[Context, None]) -> list[Material]:
        seen: dict[str, models.Material] = {}
        for record in await info.context.matters.bundle_members(self.bundle):
            for situation in record.matter.situations[:1]:
                for material in situation.materials:
                    seen.setdefault(material.name, material)
        return [Material.of(m) for m in seen.values()]


@strawberry.type(description="A life event or business theme for browsing.")
class LifeEvent:
    code: str = strawberry.field(description="Code, e.g. BIRTH, BUSINESS_START.")
    name: str = strawberry.field(description="Name, e.g. 出生, 开办企业.")
    audience: models.Audience = strawberry.field(description="个人 or 法人 theme.")


@strawberry.type(description="A service point with its distance from the given position.")
class NearbyServicePoint:
    point: ServicePoint = strawberry.field(description="The service point.")
    distance_meters: int = strawberry.field(description="Great-circle distance in metres.")


@strawberry.type(description="A count per value.")
class CountByValue:
    value: str = strawberry.field(description="The value (服务方式 or 通办范围, in Chinese).")
    count: int = strawberry.field(description="Published matters with it.")


@strawberry.type(description="Catalogue KPIs the policy documents count (published matters).")
class CatalogueStats:
    published_matters: int = strawberry.field(description="Matters in the app.")
    online_capable: int = strawberry.field(description="Matters that can be done online.")
    online_capable_share: float = strawberry.field(description="网上可办率, 0..1.")
    zero_visit: int = strawberry.field(description="Matters needing no visit (不见面).")
    zero_visit_share: float = strawberry.field(description="Share of zero-visit matters.")
    app_available: int = strawberry.field(description="Matters with the APP channel (掌上办).")
    by_service_mode: list[CountByValue] = strawberry.field(description="Counts by 服务方式.")
    by_tongban_scope: list[CountByValue] = strawberry.field(description="Counts by 通办范围.")
    catalogue_version: int = strawberry.field(description="Catalogue version counted.")


def _counts(values: dict[str, int]) -> list[CountByValue]:
    return [CountByValue(value=k, count=v) for k, v in sorted(values.items())]


def _bundle(b: models.Bundle) -> Bundle:
    return Bundle(
        code=b.code,
        name=b.name,
        audience=b.audience,
        life_event=b.life_event,
        description=b.description,
        bundle=b,
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="A matter's whole guide: the published version, or a given version that "
        "was published once. Null for an unknown code."
    )
    async def matter(
        self, info: Info[Context, None], code: str, version: int | None = None
    ) -> Matter | None:
        record = await _typed(info.context.matters.get(code, version))
        return Matter.of(record) if record else None

    @strawberry.field(description="Published matters in code order, optionally filtered.")
    async def matters(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        filter: MatterFilter | None = None,
    ) -> Connection[Matter]:
        f = filter or MatterFilter()
        where = service.MatterFilter(
            department_code=f.department_code,
            region_code=f.region_code,
            audience=f.audience,
            service_mode=f.service_mode,
            life_event=f.life_event,
            bundle_code=f.bundle_code,
        )
        page = await _typed(info.context.matters.list_matters(where, first, after))
        return Connection(
            edges=[Edge(node=Matter.of(e.node), cursor=e.cursor) for e in page.edges],
            page_info=page.page_info,
        )

    @strawberry.field(
        description="Search published matters by Chinese words, pinyin (full or initials), "
        "everyday phrases and near misses; best first."
    )
    async def search_matters(
        self,
        info: Info[Context, None],
        query: str,
        first: int | None = None,
        after: str | None = None,
    ) -> MatterSearchConnection:
        info.context.take_budget("searchMatters")
        page = await _typed(info.context.matters.search(query, first, after))
        edges = [
            MatterSearchEdge(
                node=Matter(summary=e.summary),
                cursor=e.cursor,
                score=e.hit.score,
                highlights=[
                    SearchHighlight(field=h.field, fragment=h.fragment, reason=h.reason)
                    for h in e.hit.highlights
                ],
            )
            for e in page.edges
        ]
        return MatterSearchConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(description="一件事 bundles, optionally of one life event.")
    async def bundles(
        self, info: Info[Context, None], life_event: str | None = None
    ) -> list[Bundle]:
        return [_bundle(b) for b in await _typed(info.context.matters.bundles(life_event))]

    @strawberry.field(description="Life events and business themes for browsing.")
    def life_events(self) -> list[LifeEvent]:
        return [
            LifeEvent(code=e.code, name=e.name, audience=e.audience) for e in service.life_events()
        ]

    @strawberry.field(description="Implementing departments.")
    async def departments(self, info: Info[Context, None]) -> list[Department]:
        return [
            Department(code=d.code, name=d.name, region_code=d.region_code, phone=d.phone)
            for d in await info.context.matters.departments()
        ]

    @strawberry.field(description="Qingdao and its districts and county-level cities.")
    def regions(self) -> list[Region]:
        return [Region(code=c, name=n) for c, n in REGIONS.items()]

    @strawberry.field(description="Service points nearest to a position, nearest first.")
    async def nearby_service_points(
        self,
        info: Info[Context, None],
        latitude: float,
        longitude: float,
        first: int | None = None,
    ) -> list[NearbyServicePoint]:
        points = await _typed(info.context.matters.nearby(latitude, longitude, first))
        return [
            NearbyServicePoint(
                point=ServicePoint.of(p),
                distance_meters=service.distance_meters(
                    latitude, longitude, p.latitude, p.longitude
                ),
            )
            for p in points
        ]

    @strawberry.field(description="The most-handled matters (办件量), most first.")
    async def hot_matters(
        self, info: Info[Context, None], first: int | None = None
    ) -> list[Matter]:
        return [Matter.of(r) for r in await _typed(info.context.matters.hot(first))]

    @strawberry.field(description="Catalogue KPIs: coverage, online share, modes, 通办 scope.")
    async def catalogue_stats(self, info: Info[Context, None]) -> CatalogueStats:
        svc = info.context.matters
        s = await svc.stats()
        return CatalogueStats(
            published_matters=s.published,
            online_capable=s.online_capable,
            online_capable_share=s.share(s.online_capable),
            zero_visit=s.zero_visit,
            zero_visit_share=s.share(s.zero_visit),
            app_available=s.app_available,
            by_service_mode=_counts(s.by_service_mode),
            by_tongban_scope=_counts(s.by_tongban_scope),
            catalogue_version=await svc.catalogue_version(),
        )

    @strawberry.field(description="Every version of a matter, drafts included. Operators only.")
    async def matter_versions(self, info: Info[Context, None], code: str) -> list[Matter]:
        viewer = info.context.require_viewer()
        return [Matter.of(r) for r in await _typed(info.context.matters.versions(viewer, code))]


# Mutations live in their own module; app/schema.py merges both from here.
from matters.mutations import Mutation  # noqa: E402

__all__ = ["Mutation", "Query"]
