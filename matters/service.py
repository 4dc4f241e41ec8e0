"""The catalogue's rules: public reads, search, and the operators' edit/publish lifecycle."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from strawberry.dataloader import DataLoader

from app.errors import DomainError, InputErrors
from app.pagination import (
    Connection,
    decode_cursor,
    encode_cursor,
    page_size,
)
from auth.models import Role
from auth.permissions import Viewer
from matters import demo, importer, rules
from matters.errors import (
    InvalidFilterError,
    InvalidSearchError,
    MatterNotFoundError,
    NoDraftError,
    NotPublishedError,
    StaleVersionError,
)
from matters.models import (
    Audience,
    Bundle,
    Department,
    LifeEvent,
    Matter,
    MatterRecord,
    MatterStatus,
    MatterSummary,
    ServiceMode,
    ServicePoint,
)
from matters.runtime import CatalogueRuntime
from matters.search import MAX_QUERY_CHARS, Hit, normalize
from matters.store import MatterStore, version_document

CATALOGUE_ROLES = (Role.ADMIN, Role.OPERATOR)
_CODE_CHARS = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-")


@dataclass(frozen=True, slots=True)
class MatterFilter:
    department_code: str | None = None
    region_code: str | None = None
    audience: Audience | None = None
    service_mode: ServiceMode | None = None
    life_event: str | None = None
    bundle_code: str | None = None


@dataclass(frozen=True, slots=True)
class SearchEdge:
    summary: MatterSummary
    hit: Hit
    cursor: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    edges: list[SearchEdge]
    has_next_page: bool


@dataclass(frozen=True, slots=True)
class CatalogueStats:
    published: int
    online_capable: int
    zero_visit: int
    app_available: int
    by_service_mode: dict[str, int]
    by_tongban_scope: dict[str, int]

    def share(self, count: int) -> float:
        return round(count / self.published, 4) if self.published else 0.0


def _code_like(value: str | None, field: str, max_len: int = 40) -> None:
    if value is not None and (
        not value or len(value) > max_len or not set(value.upper()) <= _CODE_CHARS
    ):
        raise InvalidFilterError("筛选条件格式不正确 (malformed filter)", field=field)


class MatterService:
    def __init__(self, store: MatterStore, runtime: CatalogueRuntime) -> None:
        self.store = store
        self.runtime = runtime
        self._points: dict[str, ServicePoint] | None = None

        async def load_versions(ids: list[str]) -> list[MatterRecord | None]:
            found = await store.versions_by_id(ids)
            return [found.get(i) for i in ids]

        self._versions: DataLoader[str, MatterRecord | None] = DataLoader(load_fn=load_versions)

    # -- public reads ----------------------------------------------------------------------

    async def get(self, code: str, version: int | None = None) -> MatterRecord | None:
        """The published guide, or a given version that was published once; None if unknown."""
        if len(code) > 64:
            return None
        if version is None:
            return await self.runtime.published(self.store, code)
        record = await self.store.version(code, version)
        if record is None or record.published_at is None:
            return None  # drafts are not public
        return record

    async def list_matters(
        self, where: MatterFilter, first: int | None, after: str | None
    ) -> Connection[MatterRecord]:
        page_size(first)
        query: dict[str, Any] = {}
        _code_like(where.department_code, "filter.departmentCode")
        if where.department_code:
            query["department_code"] = where.department_code
        if where.region_code is not None:
            if not (len(where.region_code) == 6 and where.region_code.isdigit()):
                raise InvalidFilterError(
                    "行政区划代码应为6位数字 (regionCode must be 6 digits)",
                    field="filter.regionCode",
                )
            query["region_code"] = where.region_code
        if where.audience is not None:
            query["audiences"] = where.audience.value
        if where.service_mode is not None:
            query["service_modes"] = where.service_mode.value
        _code_like(where.life_event, "filter.lifeEvent")
        if where.life_event:
            query["life_events"] = where.life_event.upper()
        _code_like(where.bundle_code, "filter.bundleCode")
        if where.bundle_code:
            bundle = await self.store.bundle(where.bundle_code)
            query["code"] = {"$in": bundle.matter_codes if bundle else []}
        return await self.store.list_published(query, first, after)

    async def search(self, query: str, first: int | None, after: str | None) -> SearchPage:
        size = page_size(first)
        text = normalize(query)
        if not text:
            raise InvalidSearchError("请输入搜索内容 (empty search)")
        if len(text) > MAX_QUERY_CHARS:
            raise InvalidSearchError(f"搜索内容不能超过{MAX_QUERY_CHARS}个字 (search too long)")
        position: tuple[float, str] | None = None
        if after:
            score, code = decode_cursor(after, 2)
            if not isinstance(score, (int, float)) or not isinstance(code, str):
                raise InvalidFilterError("无效的分页游标 (malformed cursor)", field="after")
            if not math.isfinite(score):
                raise InvalidFilterError("无效的分页游标 (malformed cursor)", field="after")
            position = (float(score), code)
        index = await self.runtime.search_index(self.store)
        hits, more = index.search(text, size, position)
        # The index holds each result's summary: no database read unless a client asks for
        # more of the guide than that (then one batched query for the page).
        edges = [SearchEdge(h.summary, h, encode_cursor([h.score, h.code])) for h in hits]
        return SearchPage(edges, more)

    async def full(self, summary: MatterSummary) -> MatterRecord:
        """The whole guide of the version a summary describes (batched per request)."""
        record = await self._versions.load(f"{summary.code}:{summary.version}")
        if record is None:
            raise MatterNotFoundError(summary.code)
        return record

    async def hot(self, first: int | None) -> list[MatterRecord]:
        return await self.store.hot(page_size(first if first is not None else 10))

    async def departments(self) -> list[Department]:
        return await self.store.departments()

    async def bundles(self, life_event: str | None) -> list[Bundle]:
        _code_like(life_event, "lifeEvent")
        return await self.store.bundles(life_event.upper() if life_event else None)

    async def bundle(self, code: str) -> Bundle | None:
        """One 一件事 bundle by code (None if unknown)."""
        _code_like(code, "bundleCode")
        return await self.store.bundle(code.upper())

    async def bundle_members(self, bundle: Bundle) -> list[MatterRecord]:
        found = await self.store.published_many(bundle.matter_codes)
        return [found[c] for c in bundle.matter_codes if c in found]

    async def service_points(self, codes: list[str]) -> list[ServicePoint]:
        # There are dozens of points, not thousands: one query per request serves every guide
        # in a list (no N+1).
        if self._points is None:
            self._points = {p.code: p for p in await self.store.all_service_points()}
        return [self._points[c] for c in codes if c in self._points]

    async def catalogue_version(self) -> int:
        return await self.runtime.current_version(self.store)

    async def nearby(
        self, latitude: float, longitude: float, first: int | None
    ) -> list[ServicePoint]:
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise InvalidFilterError("坐标超出范围 (coordinates out of range)", field="latitude")
        size = page_size(first if first else 10)
        # SecantusDB's $near orders candidates roughly (not by great-circle distance): take a
        # margin of candidates from the index and order them exactly here.
        points = await self.store.nearby(longitude, latitude, size * 2 + 5)
        points.sort(key=lambda p: distance_meters(latitude, longitude, p.latitude, p.longitude))
        return points[:size]

    async def stats(self) -> CatalogueStats:
        rows = [r["content"] for r in await self.store.stats_rows()]
        modes: Counter[str] = Counter()
        scopes: Counter[str] = Counter()
        for row in rows:
            modes.update(row.get("service_modes", []))
            scopes[row.get("tongban_scope", "无")] += 1
        return CatalogueStats(
            published=len(rows),
            online_capable=sum(1 for r in rows if r.get("online_depth") != "不可网办"),
            zero_visit=sum(1 for r in rows if r.get("visits") == 0),
            app_available=sum(1 for r in rows if "APP" in r.get("channels", [])),
            by_service_mode=dict(modes),
            by_tongban_scope=dict(scopes),
        )

    # -- operators -------------------------------------------------------------------------

    @staticmethod
    def _require_operator(viewer: Viewer) -> None:
        viewer.require_role(*CATALOGUE_ROLES)

    async def create(self, viewer: Viewer, content: Any) -> MatterRecord:
        """A new matter's first draft; its code must be new."""
        self._require_operator(viewer)
        matter = _valid(content)
        if await self.store.latest_version(matter.code):
            raise DomainError(
                f"事项 {matter.code} 已存在 (exists)", code="ALREADY_EXISTS", field="matter.code"
            )
        return await self.store.insert_draft(matter, 1, _now())

    async def edit(
        self, viewer: Viewer, code: str, content: Any, expected_version: int | None
    ) -> MatterRecord:
        """Change the draft, or start a new draft version from the published one."""
        self._require_operator(viewer)
        matter = _valid(content)
        if matter.code != code:
            raise DomainError("事项编码不可修改 (code cannot change)", field="matter.code")
        now = _now()
        if await self.store.draft(code) is not None:
            record = await self.store.replace_draft(matter, expected_version, now)
            if record is None:
                raise StaleVersionError()
            return record
        latest = await self.store.latest_version(code)
        if latest == 0:
            raise MatterNotFoundError(code)
        if expected_version is not None and expected_version != latest:
            raise StaleVersionError()
        return await self.store.insert_draft(matter, latest + 1, now)

    async def publish(self, viewer: Viewer, code: str) -> MatterRecord:
        self._require_operator(viewer)
        record = await self.store.publish(code, _now())
        if record is None:
            raise NoDraftError(code)
        self.runtime.invalidate()
        return record

    async def withdraw(self, viewer: Viewer, code: str) -> MatterRecord:
        self._require_operator(viewer)
        record = await self.store.withdraw(code, _now())
        if record is None:
            raise NotPublishedError(code)
        self.runtime.invalidate()
        return record

    async def import_matters(
        self, viewer: Viewer, fmt: str, content: str, publish: bool
    ) -> tuple[list[str], list[importer.Rejection]]:
        """Import whole matters (as new draft versions, published unless told otherwise)."""
        self._require_operator(viewer)
        parsed = importer.parse(fmt, content)
        imported = []
        now = _now()
        for matter in parsed.matters:
            if await self.store.draft(matter.code) is not None:
                await self.store.replace_draft(matter, None, now)
            else:
                latest = await self.store.latest_version(matter.code)
                await self.store.insert_draft(matter, latest + 1, now)
            if publish:
                await self.store.publish(matter.code, now)
            imported.append(matter.code)
        if publish and imported:
            self.runtime.invalidate()
        return imported, parsed.rejections

    async def versions(self, viewer: Viewer, code: str) -> list[MatterRecord]:
        self._require_operator(viewer)
        return await self.store.all_versions(code)


async def seed_catalogue(store: MatterStore, catalogue: demo.Catalogue) -> int:
    """Replace the whole catalogue with `catalogue`, every matter published as version 1."""
    now = _now()
    await store.clear()
    await store.replace_reference(
        catalogue.departments, catalogue.bundles, catalogue.service_points
    )
    return await store.insert_published_many(
        version_document(m, 1, MatterStatus.PUBLISHED, now, published_at=now)
        for m in catalogue.matters
    )


def _valid(content: Any) -> Matter:
    matter, problems = rules.parse(content)
    if matter is None:
        raise InputErrors(
            DomainError(p.message, code=p.code, field=f"matter.{p.field}" if p.field else "matter")
            for p in problems
        )
    return matter


def distance_meters(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """Great-circle (haversine) distance on a 6,371 km sphere."""
    dlat, dlon = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = (
        math.sin(dlat / 2) ** 2
        + math.cos(math.radians(lat1)) * math.cos(math.radians(lat2)) * math.sin(dlon / 2) ** 2
    )
    return round(2 * 6_371_000 * math.asin(math.sqrt(a)))


def _now() -> datetime:
    return datetime.now(UTC)


def life_events() -> list[LifeEvent]:
    from matters.demo_templates import LIFE_EVENTS

    return [LifeEvent(code=c, name=n, audience=Audience(a)) for c, n, a in LIFE_EVENTS]


__all__ = ["MatterService", "MatterStatus"]
