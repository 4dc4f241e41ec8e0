"""The matter catalogue's domain models, after the national basic catalogue and implementation list.

Fields are English snake_case in MongoDB and Python; each also accepts the Chinese name of the
national exchange format (anchors b1–b8) so the importer reads provincial files unchanged.
Validation here is the data-quality gate for every write path (create, edit, import).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from app.db import Document
from app.vocabulary import Audience as Audience  # re-exported: part of this model


def _f(chinese: str, english: str, default: Any = ..., **kwargs: Any) -> Any:
    """A field that reads either its English or its exchange-format Chinese name."""
    return Field(default, validation_alias=AliasChoices(english, chinese), **kwargs)


class MatterType(StrEnum):
    LICENSING = "行政许可"
    PENALTY = "行政处罚"
    ENFORCEMENT = "行政强制"
    LEVY = "行政征收"
    BENEFIT = "行政给付"
    INSPECTION = "行政检查"
    CONFIRMATION = "行政确认"
    REWARD = "行政奖励"
    ADJUDICATION = "行政裁决"
    OTHER_POWER = "其他行政权力"
    PUBLIC_SERVICE = "公共服务"
    FILING = "行政备案"


class ServiceMode(StrEnum):
    INSTANT_APPROVAL = "秒批"
    IMMEDIATE = "即办"
    PROMISED = "承诺办"
    DEFERRED_MATERIALS = "容缺受理"
    COMMITMENT = "告知承诺"
    FULLY_ONLINE = "全程网办"
    APPOINTMENT = "预约办"


class TongbanScope(StrEnum):
    NONE = "无"
    CITY = "全市"
    PROVINCE = "全省"
    CROSS_PROVINCE = "跨省"


class OnlineDepth(StrEnum):
    """The newer single-level scale; Ⅳ is 全程网办 (anchors b3)."""

    NONE = "不可网办"
    LEVEL_1 = "Ⅰ级"
    LEVEL_2 = "Ⅱ级"
    LEVEL_3 = "Ⅲ级"
    LEVEL_4 = "Ⅳ级"


class Channel(StrEnum):
    APP = "APP"
    WEBSITE = "网站"
    HALL = "大厅"
    KIOSK = "自助终端"
    MAIL = "邮寄"
    MINIPROGRAM = "小程序"


class ResultDelivery(StrEnum):
    """结果送达方式: how a result reaches the applicant (anchors b3/b9/b12, requirements B2/B17)."""

    ELECTRONIC = "电子送达"  # e-licence in the wallet / electronic decision, no paper
    POST = "邮寄送达"  # paper result posted (快递办, 免费寄递) with tracking
    PICKUP = "窗口领取"  # paper result collected at the service hall


class MatterStatus(StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    SUPERSEDED = "SUPERSEDED"  # an older published version, kept for `matter(code, version)`
    WITHDRAWN = "WITHDRAWN"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class Material(_Model):
    name: str = _f("材料名称", "name", min_length=1, max_length=200)
    form: str = _f("材料类型", "form", "原件", pattern="^(原件|复印件|原件和复印件|电子)$")
    copies: int = _f("纸质材料份数", "copies", 1, ge=0, le=20)
    required: bool = _f("是否必要", "required", True)
    core: bool = _f("是否核心材料", "core", True)
    deferrable: bool = _f("可容缺", "deferrable", False)
    replaceable_by_commitment: bool = _f("可告知承诺", "replaceable_by_commitment", False)
    licence_type_code: str | None = _f("电子证照类型", "licence_type_code", None, max_length=64)
    source: str = _f("来源渠道", "source", "申请人自备", max_length=100)
    sample_url: str | None = _f("示例样表", "sample_url", None, max_length=500)
    blank_form_url: str | None = _f("空白表格", "blank_form_url", None, max_length=500)


class Situation(_Model):
    code: str = _f("情形编码", "code", min_length=1, max_length=40)
    name: str = _f("情形名称", "name", min_length=1, max_length=200)
    conditions: list[str] = _f("受理条件", "conditions", default_factory=list)
    materials: list[Material] = _f("申请材料", "materials", min_length=1)


class LegalBasis(_Model):
    name: str = _f("名称", "name", min_length=1, max_length=300)
    document_number: str | None = _f("文号", "document_number", None, max_length=100)
    article: str | None = _f("条款", "article", None, max_length=100)
    content: str | None = _f("内容", "content", None, max_length=4000)


class Step(_Model):
    order: int = _f("步骤", "order", ge=1)
    name: str = _f("环节", "name", min_length=1, max_length=100)
    handler: str | None = _f("办理人员", "handler", None, max_length=100)
    time_limit_days: int | None = _f("办理时限", "time_limit_days", None, ge=0, le=365)
    standard: str | None = _f("审查标准", "standard", None, max_length=1000)
    result: str | None = _f("办理结果", "result", None, max_length=200)


class Fee(_Model):
    name: str = _f("收费项目名称", "name", min_length=1, max_length=200)
    standard: str = _f("收费标准", "standard", min_length=1, max_length=500)
    basis: str = _f("收费依据", "basis", min_length=1, max_length=500)
    reducible: bool = _f("是否允许减免", "reducible", False)


class Faq(_Model):
    question: str = _f("问题", "question", min_length=1, max_length=500)
    answer: str = _f("答案", "answer", min_length=1, max_length=4000)


class Matter(_Model):
    """One version of one matter's guide (the implementation-list row plus its sub-tables)."""

    code: str = _f("基本编码", "code", pattern=r"^[0-9A-Z]{6,36}$")
    name: str = _f("事项名称", "name", min_length=2, max_length=1000)
    type: MatterType = _f("事项类型", "type")
    department_code: str = _f("实施主体编码", "department_code", pattern=r"^[0-9A-Z-]{4,40}$")
    department_name: str = _f("实施主体", "department_name", min_length=2, max_length=100)
    region_code: str = _f("行政区划代码", "region_code", pattern=r"^3702\d\d$")
    audiences: list[Audience] = _f("服务对象", "audiences", min_length=1)
    aliases: list[str] = _f("俗称", "aliases", default_factory=list)
    keywords: list[str] = _f("关键词", "keywords", default_factory=list)
    life_events: list[str] = _f("主题分类", "life_events", default_factory=list)
    conditions: list[str] = _f("受理条件", "conditions", min_length=1)
    situations: list[Situation] = _f("办事情形", "situations", min_length=1)
    legal_basis: list[LegalBasis] = _f("设定依据", "legal_basis", min_length=1)
    steps: list[Step] = _f("办理流程", "steps", min_length=1)
    statutory_days: int = _f("法定办结时限", "statutory_days", ge=0, le=365)
    committed_days: int = _f("承诺办结时限", "committed_days", ge=0, le=365)
    charged: bool = _f("是否收费", "charged", False)
    fees: list[Fee] = _f("收费项目", "fees", default_factory=list)
    online_payment: bool = _f("是否支持网上支付", "online_payment", False)
    visits: int = _f("到办事现场次数", "visits", ge=0, le=5)
    online_depth: OnlineDepth = _f("网上办理深度", "online_depth")
    service_modes: list[ServiceMode] = _f("服务方式", "service_modes", default_factory=list)
    tongban_scope: TongbanScope = _f("通办范围", "tongban_scope", TongbanScope.NONE)
    channels: list[Channel] = _f("办理形式", "channels", min_length=1)
    service_point_codes: list[str] = _f("办理地点", "service_point_codes", default_factory=list)
    office_hours: str = _f("办理时间", "office_hours", "工作日 9:00-17:00", max_length=200)
    result_name: str | None = _f("审批结果名称", "result_name", None, max_length=200)
    # Empty: not stated; `delivery_methods` then gives the default (see there).
    result_delivery: list[ResultDelivery] = _f(
        "结果送达方式", "result_delivery", default_factory=list, max_length=3
    )
    faq: list[Faq] = _f("常见问题", "faq", default_factory=list)
    consultation_phone: str = _f("咨询电话", "consultation_phone", pattern=r"^0532-\d{8}$|^12345$")
    complaint_phone: str = _f("监督投诉电话", "complaint_phone", pattern=r"^0532-\d{8}$|^12345$")
    popularity: int = _f("办件量", "popularity", 0, ge=0)
    form_schema: dict[str, Any] | None = _f("表单", "form_schema", None)

    @field_validator("aliases", "keywords", "life_events", "conditions")
    @classmethod
    def _short_texts(cls, values: list[str]) -> list[str]:
        if any(not v.strip() or len(v) > 500 for v in values):
            raise ValueError("entries must be non-empty and at most 500 characters")
        return values

    @property
    def online_capable(self) -> bool:
        return self.online_depth is not OnlineDepth.NONE

    @property
    def delivery_methods(self) -> list[ResultDelivery]:
        """The result delivery methods an applicant may choose, in the guide's order. Not
        stated: electronic only without a named result, else electronic or collection at the
        hall (posting needs a courier arrangement: 是否支持物流快递, so it is never assumed)."""
        if self.result_delivery:
            return list(dict.fromkeys(self.result_delivery))
        if not self.result_name:
            return [ResultDelivery.ELECTRONIC]
        return [ResultDelivery.ELECTRONIC, ResultDelivery.PICKUP]

    def to_content(self) -> Document:
        return self.model_dump(mode="json")


class MatterRecord(_Model):
    """A stored version: the guide plus its lifecycle."""

    matter: Matter
    version: int
    status: MatterStatus
    updated_at: datetime
    published_at: datetime | None = None

    @property
    def summary(self) -> MatterSummary:
        m = self.matter
        return MatterSummary(
            code=m.code,
            name=m.name,
            type=m.type,
            version=self.version,
            status=self.status,
            department_code=m.department_code,
            department_name=m.department_name,
            region_code=m.region_code,
            audiences=m.audiences,
            service_modes=m.service_modes,
            visits=m.visits,
            online_depth=m.online_depth,
            popularity=m.popularity,
            updated_at=self.updated_at,
            published_at=self.published_at,
        )

    @classmethod
    def from_document(cls, doc: Document) -> MatterRecord:
        return cls(
            matter=Matter.model_validate(doc["content"]),
            version=doc["version"],
            status=MatterStatus(doc["status"]),
            updated_at=doc["updated_at"],
            published_at=doc.get("published_at"),
        )


class MatterSummary(_Model):
    """What lists and search results show without loading the whole guide."""

    code: str
    name: str
    type: MatterType
    version: int
    status: MatterStatus
    department_code: str
    department_name: str
    region_code: str
    audiences: list[Audience]
    service_modes: list[ServiceMode]
    visits: int
    online_depth: OnlineDepth
    popularity: int
    updated_at: datetime
    published_at: datetime | None = None

    @property
    def online_capable(self) -> bool:
        return self.online_depth is not OnlineDepth.NONE

    @classmethod
    def from_document(cls, doc: Document) -> MatterSummary:
        """From a stored version, whole or projected to SUMMARY_FIELDS."""
        content = doc["content"]
        return cls(
            code=doc["code"],
            name=content["name"],
            type=content["type"],
            version=doc["version"],
            status=doc["status"],
            department_code=content["department_code"],
            department_name=content["department_name"],
            region_code=content["region_code"],
            audiences=content["audiences"],
            service_modes=content["service_modes"],
            visits=content["visits"],
            online_depth=content["online_depth"],
            popularity=content["popularity"],
            updated_at=doc["updated_at"],
            published_at=doc.get("published_at"),
        )


# Stored fields MatterSummary.from_document reads (a projection for the search index).
SUMMARY_FIELDS = (
    "code", "version", "status", "updated_at", "published_at",
    *(
        f"content.{name}"
        for name in (
            "name", "type", "department_code", "department_name", "region_code", "audiences",
            "service_modes", "visits", "online_depth", "popularity",
        )
    ),
)  # fmt: skip


class Department(_Model):
    code: str
    name: str
    region_code: str
    phone: str


class Region(_Model):
    code: str
    name: str


class ServicePoint(_Model):
    code: str
    name: str
    region_code: str
    address: str
    phone: str
    office_hours: str
    longitude: float = Field(ge=-180, le=180)
    latitude: float = Field(ge=-90, le=90)

    def to_document(self) -> Document:
        doc = self.model_dump()
        doc["_id"] = doc.pop("code")
        doc["location"] = {"type": "Point", "coordinates": [self.longitude, self.latitude]}
        return doc

    @classmethod
    def from_document(cls, doc: Document) -> ServicePoint:
        return cls.model_validate({**doc, "code": doc["_id"]})


class Bundle(_Model):
    """一件事: a life event or business theme joining several matters, one material list."""

    code: str
    name: str
    audience: Audience
    life_event: str
    description: str
    matter_codes: list[str] = Field(min_length=2)


class LifeEvent(_Model):
    code: str
    name: str
    audience: Audience
