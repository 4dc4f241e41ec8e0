"""Strawberry types of the catalogue (the guide and its parts); resolvers are in schema.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

import strawberry
from strawberry.types import Info

from app.api_types import JSON
from app.context import Context
from app.ids import to_global_id
from matters import models
from matters.demo_templates import REGIONS

strawberry.enum(models.MatterType, description="事项类型 (national basic catalogue).")
strawberry.enum(
    models.ServiceMode,
    description="服务方式: 秒批, 即办, 承诺办, 容缺受理, 告知承诺, 全程网办, 预约办.",
)
strawberry.enum(models.TongbanScope, description="通办范围: none, 全市, 全省, 跨省.")
strawberry.enum(models.OnlineDepth, description="网上办理深度 Ⅰ–Ⅳ; LEVEL_4 is 全程网办.")
strawberry.enum(models.Channel, description="办理形式 / channel.")
strawberry.enum(
    models.ResultDelivery,
    name="ResultDeliveryMethod",
    description="结果送达方式: ELECTRONIC (电子送达), POST (邮寄送达), PICKUP (窗口领取).",
)
strawberry.enum(
    models.MatterStatus,
    description="DRAFT, PUBLISHED, SUPERSEDED (an older published version) or WITHDRAWN.",
)


@strawberry.type(description="申请材料: one material a situation asks for.")
class Material:
    name: str = strawberry.field(description="材料名称.")
    form: str = strawberry.field(description="原件, 复印件, 原件和复印件 or 电子.")
    copies: int = strawberry.field(description="Paper copies.")
    required: bool = strawberry.field(description="Whether it must be provided.")
    core: bool = strawberry.field(description="A core material (never deferrable).")
    deferrable: bool = strawberry.field(description="May be handed in later (容缺受理).")
    replaceable_by_commitment: bool = strawberry.field(
        description="May be replaced by a signed commitment (告知承诺)."
    )
    licence_type_code: str | None = strawberry.field(
        description="E-licence type that satisfies it without paper (免证办); null if none."
    )
    source: str = strawberry.field(description="来源渠道.")
    sample_url: str | None = strawberry.field(description="Filled-in sample (示例样表).")
    blank_form_url: str | None = strawberry.field(description="Blank form (空白表格).")

    @classmethod
    def of(cls, m: models.Material) -> Material:
        return cls(**m.model_dump())


@strawberry.type(description="办事情形: one way of handling the matter, with its own list.")
class Situation:
    code: str = strawberry.field(description="Situation code within the matter.")
    name: str = strawberry.field(description="情形名称.")
    conditions: list[str] = strawberry.field(description="Extra conditions of this situation.")
    materials: list[Material] = strawberry.field(description="Materials for this situation.")

    @classmethod
    def of(cls, s: models.Situation) -> Situation:
        return cls(
            code=s.code,
            name=s.name,
            conditions=list(s.conditions),
            materials=[Material.of(m) for m in s.materials],
        )


@strawberry.type(description="法律依据: a law or regulation the matter rests on.")
class LegalBasis:
    name: str = strawberry.field(description="Name of the law.")
    document_number: str | None = strawberry.field(description="文号.")
    article: str | None = strawberry.field(description="条款.")
    content: str | None = strawberry.field(description="Article text.")


@strawberry.type(description="办理环节: one step of the process (drawable as a flowchart).")
class Step:
    order: int = strawberry.field(description="Position, from 1.")
    name: str = strawberry.field(description="Step name.")
    handler: str | None = strawberry.field(description="Who handles it.")
    time_limit_days: int | None = strawberry.field(description="Working days for this step.")
    standard: str | None = strawberry.field(description="审查标准.")
    result: str | None = strawberry.field(description="What the step produces.")


@strawberry.type(description="收费项目.")
class Fee:
    name: str = strawberry.field(description="Fee name.")
    standard: str = strawberry.field(description="How much.")
    basis: str = strawberry.field(description="Legal basis of the fee.")
    reducible: bool = strawberry.field(description="Whether reductions are allowed.")


@strawberry.type(description="常见问题.")
class Faq:
    question: str = strawberry.field(description="Question.")
    answer: str = strawberry.field(description="Answer.")


@strawberry.type(description="An implementing department.")
class Department:
    code: str = strawberry.field(description="Department code.")
    name: str = strawberry.field(description="Department name.")
    region_code: str = strawberry.field(description="行政区划代码 of the department.")
    phone: str | None = strawberry.field(description="Department phone; null if unknown.")


@strawberry.type(description="A district or county-level city of Qingdao (or the city).")
class Region:
    code: str = strawberry.field(description="行政区划代码 (370200 is the city).")
    name: str = strawberry.field(description="Name.")


@strawberry.type(description="A service hall or kiosk location (政务服务地图).")
class ServicePoint:
    code: str = strawberry.field(description="Service point code.")
    name: str = strawberry.field(description="Name.")
    region_code: str = strawberry.field(description="行政区划代码.")
    address: str = strawberry.field(description="Street address.")
    phone: str = strawberry.field(description="Phone.")
    office_hours: str = strawberry.field(description="Opening hours.")
    latitude: float = strawberry.field(description="WGS-84 latitude.")
    longitude: float = strawberry.field(description="WGS-84 longitude.")

    @classmethod
    def of(cls, p: models.ServicePoint) -> ServicePoint:
        return cls(**p.model_dump())


@strawberry.type(description="The application form of a matter (owned by 申办).")
class MatterForm:
    schema: JSON = strawberry.field(description="JSON Schema of the form data.")


@strawberry.type(description="办事指南: one version of a matter's whole guide.")
class Matter:
    """Backed by a summary (lists, search) and, once a resolver needs more, the whole guide:
    loaded per request, batched across a page (one query), exact version."""

    summary: strawberry.Private[models.MatterSummary]
    record: strawberry.Private[models.MatterRecord | None] = None

    @classmethod
    def of(cls, record: models.MatterRecord) -> Matter:
        return cls(summary=record.summary, record=record)

    async def _full(self, info: Info[Context, None]) -> models.Matter:
        if self.record is None:
            self.record = await info.context.matters.full(self.summary)
        return self.record.matter

    @property
    def _s(self) -> models.MatterSummary:
        return self.summary

    @strawberry.field(description="Opaque global id of this version.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Matter", f"{self._s.code}:{self._s.version}"))

    @strawberry.field(description="事项编码 (provincial code).")
    def code(self) -> str:
        return self._s.code

    @strawberry.field(description="事项名称.")
    def name(self) -> str:
        return self._s.name

    @strawberry.field(description="事项类型.")
    def type(self) -> models.MatterType:
        return self._s.type

    @strawberry.field(description="实施主体.")
    def department(self) -> Department:
        return Department(
            code=self._s.department_code,
            name=self._s.department_name,
            region_code=self._s.region_code,
            phone=None,
        )

    @strawberry.field(description="Region where it is implemented.")
    def region(self) -> Region:
        return Region(code=self._s.region_code, name=REGIONS.get(self._s.region_code, ""))

    @strawberry.field(description="服务对象.")
    def audiences(self) -> list[models.Audience]:
        return list(self._s.audiences)

    @strawberry.field(description="Colloquial names (俗称) it is also found by.")
    async def aliases(self, info: Info[Context, None]) -> list[str]:
        m = await self._full(info)
        return list(m.aliases)

    @strawberry.field(description="Life-event and theme codes it belongs to.")
    async def life_events(self, info: Info[Context, None]) -> list[str]:
        m = await self._full(info)
        return list(m.life_events)

    @strawberry.field(description="受理条件.")
    async def conditions(self, info: Info[Context, None]) -> list[str]:
        m = await self._full(info)
        return list(m.conditions)

    @strawberry.field(description="办事情形, each with its own materials.")
    async def situations(self, info: Info[Context, None]) -> list[Situation]:
        m = await self._full(info)
        return [Situation.of(s) for s in m.situations]

    @strawberry.field(description="Every material of every situation, once each by name.")
    async def materials(self, info: Info[Context, None]) -> list[Material]:
        m = await self._full(info)
        seen: dict[str, models.Material] = {}
        for situation in m.situations:
            for material in situation.materials:
                seen.setdefault(material.name, material)
        return [Material.of(m) for m in seen.values()]

    @strawberry.field(description="设定依据.")
    async def legal_basis(self, info: Info[Context, None]) -> list[LegalBasis]:
        m = await self._full(info)
        return [LegalBasis(**b.model_dump()) for b in m.legal_basis]

    @strawberry.field(description="办理流程, in order.")
    async def steps(self, info: Info[Context, None]) -> list[Step]:
        m = await self._full(info)
        return [Step(**s.model_dump()) for s in m.steps]

    @strawberry.field(description="The steps as a Mermaid flowchart (办理流程图).")
    async def flowchart(self, info: Info[Context, None]) -> str:
        m = await self._full(info)
        nodes = [f'  S{s.order}["{s.name}"]' for s in m.steps]
        links = [f"  S{s.order} --> S{s.order + 1}" for s in m.steps[:-1]]
        return "\n".join(["flowchart TD", *nodes, *links])

    @strawberry.field(description="法定办结时限, working days.")
    async def statutory_days(self, info: Info[Context, None]) -> int:
        m = await self._full(info)
        return m.statutory_days

    @strawberry.field(description="承诺办结时限, working days (0 = 即办).")
    async def committed_days(self, info: Info[Context, None]) -> int:
        m = await self._full(info)
        return m.committed_days

    @strawberry.field(description="Whether fees are charged.")
    async def charged(self, info: Info[Context, None]) -> bool:
        m = await self._full(info)
        return m.charged

    @strawberry.field(description="收费项目.")
    async def fees(self, info: Info[Context, None]) -> list[Fee]:
        m = await self._full(info)
        return [Fee(**f.model_dump()) for f in m.fees]

    @strawberry.field(description="Whether fees can be paid online.")
    async def online_payment(self, info: Info[Context, None]) -> bool:
        m = await self._full(info)
        return m.online_payment

    @strawberry.field(description="到办事现场次数 (0 = 不见面).")
    def visits(self) -> int:
        return self._s.visits

    @strawberry.field(description="网上办理深度.")
    def online_depth(self) -> models.OnlineDepth:
        return self._s.online_depth

    @strawberry.field(description="Whether any part can be done online.")
    def online_capable(self) -> bool:
        return self._s.online_capable

    @strawberry.field(description="服务方式.")
    def service_modes(self) -> list[models.ServiceMode]:
        return list(self._s.service_modes)

    @strawberry.field(description="通办范围.")
    async def tongban_scope(self, info: Info[Context, None]) -> models.TongbanScope:
        m = await self._full(info)
        return m.tongban_scope

    @strawberry.field(description="办理形式 / channels.")
    async def channels(self, info: Info[Context, None]) -> list[models.Channel]:
        m = await self._full(info)
        return list(m.channels)

    @strawberry.field(description="Where to go in person.")
    async def service_points(self, info: Info[Context, None]) -> list[ServicePoint]:
        m = await self._full(info)
        points = await info.context.matters.service_points(list(m.service_point_codes))
        return [ServicePoint.of(p) for p in points]

    @strawberry.field(description="办理时间.")
    async def office_hours(self, info: Info[Context, None]) -> str:
        m = await self._full(info)
        return m.office_hours

    @strawberry.field(description="审批结果名称 (e.g. 营业执照); null if none.")
    async def result_name(self, info: Info[Context, None]) -> str | None:
        m = await self._full(info)
        return m.result_name

    @strawberry.field(
        description="结果送达方式 the applicant may choose at submission (`resultDelivery`)."
    )
    async def result_delivery_methods(
        self, info: Info[Context, None]
    ) -> list[models.ResultDelivery]:
        m = await self._full(info)
        return m.delivery_methods

    @strawberry.field(description="常见问题.")
    async def faq(self, info: Info[Context, None]) -> list[Faq]:
        m = await self._full(info)
        return [Faq(**f.model_dump()) for f in m.faq]

    @strawberry.field(description="咨询电话.")
    async def consultation_phone(self, info: Info[Context, None]) -> str:
        m = await self._full(info)
        return m.consultation_phone

    @strawberry.field(description="监督投诉电话.")
    async def complaint_phone(self, info: Info[Context, None]) -> str:
        m = await self._full(info)
        return m.complaint_phone

    @strawberry.field(description="办件量 used to rank hot matters and search ties.")
    def popularity(self) -> int:
        return self._s.popularity

    @strawberry.field(description="码上办 deep link that opens this guide in the app.")
    def deep_link(self) -> str:
        return f"zsb://matters/{self._s.code}"

    @strawberry.field(description="The application form; its schema is owned by 申办.")
    async def form(
        self,
        info: Info[Context, None],
        situation: Annotated[
            str | None,
            strawberry.argument(description="办事情形 code or name; null: the first situation."),
        ] = None,
    ) -> MatterForm:
        from applications.forms import form_schema  # 申办 owns forms; imported late: no cycle

        m = await self._full(info)
        schema = form_schema(m, situation)
        return MatterForm(schema=cast(JSON, schema))

    @strawberry.field(description="Version number; each published change is a new one.")
    def version(self) -> int:
        return self._s.version

    @strawberry.field(description="Status of this version.")
    def status(self) -> models.MatterStatus:
        return self._s.status

    @strawberry.field(description="Last change of this version.")
    def updated_at(self) -> datetime:
        return self._s.updated_at

    @strawberry.field(description="When this version was published; null for a draft.")
    def published_at(self) -> datetime | None:
        return self._s.published_at
